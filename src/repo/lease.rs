//! A leased actor ([`crate::Lease`]) and the documents this replica may write as it.

use automerge::ActorId;

use crate::sync::Interest;
use crate::{DocId, Error};

use super::Repo;

/// The longest actor a version token can name (`crate::version::MAX_ACTOR_LEN`).
const MAX_LEASED_ACTOR_LEN: usize = 64;

/// The leased actor and where the host claimed it.
#[derive(Debug)]
pub(super) struct LeasedActor {
    actor: ActorId,
    /// What the host claimed it for (claims add up).
    claimed: Vec<Interest>,
}

impl LeasedActor {
    /// Checks a leased actor; it is claimed for no document yet.
    pub(super) fn new(actor: &ActorId) -> Result<Self, Error> {
        let len = actor.to_bytes().len();
        if len == 0 || len > MAX_LEASED_ACTOR_LEN {
            return Err(Error::InvalidLease {
                why: "the leased actor must be 1 to 64 bytes long",
            });
        }
        Ok(Self {
            actor: actor.clone(),
            claimed: Vec::new(),
        })
    }

    /// The leased actor, if it is claimed for `doc`.
    pub(super) fn for_doc(&self, doc: &DocId) -> Option<&ActorId> {
        let claimed = self.claimed.iter().any(|i| i.wants(doc));
        claimed.then_some(&self.actor)
    }
}

impl Repo {
    /// Writes as the leased actor ([`crate::RepoConfig::lease`]) from now on in the documents
    /// `docs` names (every document, present or future, with [`Interest::All`]; the
    /// documents one sync session followed, in general).
    ///
    /// The host promises that this replica holds every change the leased actor ever made to
    /// those documents: it has completed a sync with a replica that holds them all, since it
    /// took the lease (in the browser: the database owner commits every change before relaying
    /// it, so once a tab slot's page is in sync with it, the page holds everything the slot's
    /// earlier pages made that still exists). A claim is never taken back: from then on this
    /// replica is the actor's only writer. Claiming for a document the replica does not hold
    /// in full hands out sequence numbers the actor already used, which corrupts the document
    /// on every replica that meets both changes.
    ///
    /// Fails with [`Error::InvalidLease`] if the replica was opened without a lease.
    pub fn claim_actor(&mut self, docs: &Interest) -> Result<(), Error> {
        let lease = self.lease.as_mut().ok_or(Error::InvalidLease {
            why: "this replica was opened without a lease (RepoConfig::lease): nothing to claim",
        })?;
        if !lease.claimed.contains(docs) {
            lease.claimed.push(docs.clone());
        }
        // Documents in memory switch now (automerge continues the actor's sequence).
        let lease = &*lease;
        for (id, doc) in &mut self.docs {
            if let Some(actor) = lease.for_doc(id) {
                doc.inner.set_actor(actor.clone());
            }
        }
        Ok(())
    }

    /// The actor a change to `doc` is written as: the leased one where claimed, else this
    /// replica's own.
    pub fn actor_for(&self, doc: &DocId) -> &ActorId {
        self.lease
            .as_ref()
            .and_then(|l| l.for_doc(doc))
            .unwrap_or(&self.actor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::{Session, SessionConfig, run_until_quiet};
    use crate::{DeviceId, Lease, RepoConfig, VersionVector};

    fn lease() -> Lease {
        Lease {
            device: DeviceId::from_bytes([7; 16]),
            actor: ActorId::from(&[9u8; 16][..]),
        }
    }

    fn leased() -> Repo {
        let config = RepoConfig {
            lease: Some(lease()),
            ..RepoConfig::default()
        };
        Repo::in_memory(config).unwrap()
    }

    fn add(repo: &mut Repo, doc: &str, member: &str) {
        repo.change(doc, |tx| tx.set(["items"]).add(member))
            .unwrap();
    }

    /// Syncs `page` with `hub`, following `interest`.
    fn sync(page: &mut Repo, hub: &mut Repo, interest: Interest) {
        let config = SessionConfig {
            interest,
            ..SessionConfig::default()
        };
        let (mut a, mut b) = (Session::new(config), Session::new(SessionConfig::default()));
        run_until_quiet(&mut a, page, &mut b, hub).unwrap();
    }

    fn actors(version: &VersionVector) -> Vec<(ActorId, u64)> {
        version.iter().map(|(a, s)| (a.clone(), s)).collect()
    }

    #[test]
    fn writes_as_its_own_actor_until_claimed_then_as_the_leased_one() {
        let mut page = leased();
        let own = page.actor().clone();
        assert_eq!(page.device_id(), lease().device);
        assert_ne!(own, lease().actor);

        add(&mut page, "a", "before the claim");
        page.claim_actor(&Interest::Docs(vec![DocId::new("a").unwrap()]))
            .unwrap();
        add(&mut page, "a", "after the claim");
        add(&mut page, "b", "unclaimed");
        let a = page.version("a").unwrap();
        assert_eq!((a.get(&own), a.get(&lease().actor), a.len()), (1, 1, 2));
        assert_eq!(actors(&page.version("b").unwrap()), [(own.clone(), 1)]);

        page.claim_actor(&Interest::All).unwrap();
        add(&mut page, "b", "claimed with every document");
        add(&mut page, "new", "a document made after the claim");
        assert_eq!(page.version("b").unwrap().get(&lease().actor), 1);
        assert_eq!(actors(&page.version("new").unwrap()), [(lease().actor, 1)]);
    }

    #[test]
    fn a_later_replica_with_the_lease_continues_the_actors_sequence() {
        let mut hub = Repo::in_memory(RepoConfig::default()).unwrap();
        for load in 1..=4u64 {
            let mut page = leased();
            sync(&mut page, &mut hub, Interest::All);
            page.claim_actor(&Interest::All).unwrap();
            add(&mut page, "doc", &format!("load {load}"));
            sync(&mut page, &mut hub, Interest::All);
            // One actor however many replicas held the lease, its sequence unbroken.
            assert_eq!(
                actors(&hub.version("doc").unwrap()),
                [(lease().actor, load)]
            );
        }
        let members = hub
            .view("doc", |d| d.set(["items"]).members())
            .unwrap()
            .unwrap();
        assert_eq!(members, ["load 1", "load 2", "load 3", "load 4"]);
        // The hub met one device, not four.
        assert_eq!(hub.status().unwrap().peers.len(), 1);
    }

    #[test]
    fn a_document_the_replica_did_not_sync_is_written_as_its_own_actor() {
        let mut hub = Repo::in_memory(RepoConfig::default()).unwrap();
        let mut first = leased();
        first.claim_actor(&Interest::All).unwrap();
        add(&mut first, "b", "by the first replica");
        sync(&mut first, &mut hub, Interest::All);
        drop(first);

        // The next replica follows only "a": its claim does not reach "b", which the leased
        // actor wrote before; writing "b" as that actor would reuse its sequence number 1.
        let mut page = leased();
        let a = Interest::Docs(vec![DocId::new("a").unwrap()]);
        sync(&mut page, &mut hub, a.clone());
        page.claim_actor(&a).unwrap();
        add(&mut page, "b", "by the second replica");
        let own = page.actor().clone();
        assert_eq!(actors(&page.version("b").unwrap()), [(own.clone(), 1)]);
        sync(&mut page, &mut hub, Interest::All);
        let mut both = hub
            .view("b", |d| d.set(["items"]).members())
            .unwrap()
            .unwrap();
        both.sort();
        assert_eq!(both, ["by the first replica", "by the second replica"]);
        assert_eq!(hub.version("b").unwrap().get(&own), 1);
        assert_eq!(hub.version("b").unwrap().get(&lease().actor), 1);
    }

    #[test]
    fn leases_are_refused_where_they_cannot_hold() {
        let code = |r: Result<Repo, Error>| r.map(|_| ()).unwrap_err().code();
        let with = |lease| RepoConfig {
            lease: Some(lease),
            ..RepoConfig::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("replica.db");
        assert_eq!(code(Repo::open(&file, with(lease()))), "INVALID_LEASE");
        assert!(!file.exists(), "a refused open must not create the file");
        let image = Repo::in_memory(RepoConfig::default())
            .unwrap()
            .export_image()
            .unwrap();
        let from_image = Repo::from_image(&image, None, with(lease()));
        assert_eq!(code(from_image), "INVALID_LEASE");
        for bad in [Vec::new(), vec![1u8; 65]] {
            let bad = Lease {
                actor: ActorId::from(bad),
                ..lease()
            };
            assert_eq!(code(Repo::in_memory(with(bad))), "INVALID_LEASE");
        }
        let mut plain = Repo::in_memory(RepoConfig::default()).unwrap();
        let err = plain.claim_actor(&Interest::All).unwrap_err();
        assert_eq!(err.code(), "INVALID_LEASE");
        assert!(err.to_string().contains("without a lease"), "{err}");
    }
}
