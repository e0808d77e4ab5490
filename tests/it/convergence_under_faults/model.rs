//! The independent model the replicas are checked against, and what is read from a replica.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::Hash;

use polyarch::automerge::ActorId;
use polyarch::{Repo, Value, VersionVector};

use super::{ALPHABET, KEYS, REGS};

/// A change: its writer and that writer's sequence number in the document.
pub type ChangeId = (ActorId, u64);

/// Whether an edit that had seen `seen` had seen change `id`.
fn sees(seen: &VersionVector, id: &ChangeId) -> bool {
    seen.get(&id.0) >= id.1
}

/// A write to a register or map key (`None`: the key was deleted).
#[derive(Debug, Clone)]
pub struct Write {
    id: ChangeId,
    seen: VersionVector,
    value: Option<String>,
}

/// An add (a new tag) or a remove of one OR-set member.
#[derive(Debug, Clone)]
struct SetOp {
    id: ChangeId,
    seen: VersionVector,
    add: bool,
}

/// A sequence of unique elements: which were ever inserted, which deleted.
#[derive(Debug, Clone)]
pub struct Seq<T> {
    pub inserted: HashSet<T>,
    pub deleted: HashSet<T>,
}

impl<T> Default for Seq<T> {
    fn default() -> Self {
        Self {
            inserted: HashSet::new(),
            deleted: HashSet::new(),
        }
    }
}

impl<T: Eq + Hash + Clone + Ord + std::fmt::Debug> Seq<T> {
    fn check(&self, what: &str, got: &[T]) {
        let unique: BTreeSet<T> = got.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            got.len(),
            "{what} holds an element twice: {got:?}"
        );
        let want: BTreeSet<T> = self.inserted.difference(&self.deleted).cloned().collect();
        assert!(
            unique == want,
            "{what} should hold exactly the elements inserted and never deleted\n\
             missing: {:?}\nunexpected: {:?}",
            want.difference(&unique).collect::<Vec<_>>(),
            unique.difference(&want).collect::<Vec<_>>()
        );
    }
}

/// What every edit of one document did, as the model sees it.
#[derive(Debug, Default)]
pub struct DocModel {
    /// Changes made to the document.
    pub changes: u64,
    pub counter: i64,
    /// Writes per key: `regs/<name>` for registers, `kv/<key>` for the map's keys.
    registers: BTreeMap<String, Vec<Write>>,
    set: BTreeMap<String, Vec<SetOp>>,
    pub text: Seq<char>,
    pub list: Seq<i64>,
}

impl DocModel {
    pub fn write(&mut self, key: &str, id: ChangeId, seen: &VersionVector, value: Option<String>) {
        let seen = seen.clone();
        let write = Write { id, seen, value };
        self.registers
            .entry(key.to_owned())
            .or_default()
            .push(write);
    }

    pub fn set_op(&mut self, member: &str, id: ChangeId, seen: &VersionVector, add: bool) {
        let seen = seen.clone();
        let op = SetOp { id, seen, add };
        self.set.entry(member.to_owned()).or_default().push(op);
    }

    /// The values a key keeps: its writes that no other write or delete of it has seen.
    fn kept(&self, key: &str) -> BTreeSet<String> {
        let writes = self.registers.get(key).map_or(&[][..], Vec::as_slice);
        writes
            .iter()
            .filter(|w| !writes.iter().any(|o| o.id != w.id && sees(&o.seen, &w.id)))
            .filter_map(|w| w.value.clone())
            .collect()
    }

    /// Add wins: a member is present iff some add of it was seen by no remove of it.
    fn members(&self) -> BTreeSet<String> {
        self.set
            .iter()
            .filter(|(_, ops)| {
                ops.iter().filter(|a| a.add).any(|a| {
                    !ops.iter()
                        .any(|r| !r.add && r.id != a.id && sees(&r.seen, &a.id))
                })
            })
            .map(|(m, _)| m.clone())
            .collect()
    }

    /// Compares what every replica converged to with the model.
    pub fn check(&self, doc: &str, got: &Reading, version: &VersionVector) {
        let all_ids = self
            .registers
            .values()
            .flat_map(|ws| ws.iter().map(|w| &w.id))
            .chain(self.set.values().flat_map(|ops| ops.iter().map(|o| &o.id)));
        for id in all_ids {
            assert!(sees(version, id), "{doc}: change {id:?} was lost");
        }
        assert_eq!(
            version.total(),
            self.changes,
            "{doc}: the replicas hold another number of changes than were made"
        );
        assert_eq!(
            got.counter, self.counter,
            "{doc}: the counter is not the sum of increments"
        );
        assert_eq!(
            got.members,
            self.members(),
            "{doc}: the OR-set breaks add-wins"
        );
        for r in REGS {
            let key = format!("regs/{r}");
            let kept = self.kept(&key);
            let (winner, conflicts) = got.registers.get(&key).cloned().unwrap_or_default();
            assert_eq!(
                conflicts, kept,
                "{doc}: register {key} keeps the wrong values"
            );
            assert!(
                winner.as_ref().is_none_or(|w| kept.contains(w))
                    && winner.is_some() != kept.is_empty(),
                "{doc}: register {key} reads {winner:?}, not one of its values {kept:?}"
            );
        }
        let present: BTreeSet<String> = KEYS
            .iter()
            .filter(|k| !self.kept(&format!("kv/{k}")).is_empty())
            .map(|k| k.to_string())
            .collect();
        assert_eq!(got.kv_keys, present, "{doc}: the map holds the wrong keys");
        for k in &present {
            let key = format!("kv/{k}");
            let conflicts = got
                .registers
                .get(&key)
                .map(|(_, c)| c.clone())
                .unwrap_or_default();
            assert_eq!(
                conflicts,
                self.kept(&key),
                "{doc}: map key {k} keeps the wrong values"
            );
        }
        self.text.check(
            &format!("{doc}: the text"),
            &got.text.chars().collect::<Vec<_>>(),
        );
        self.list.check(&format!("{doc}: the list"), &got.list);
    }
}

/// A replica's text and list, to check later that their order held.
pub struct Order {
    text: Vec<char>,
    list: Vec<i64>,
}

impl Order {
    pub fn of(repo: &mut Repo, doc: &str) -> Self {
        Self {
            text: read(repo, doc, |v| v.text("text").to_string())
                .chars()
                .collect(),
            list: read_list(repo, doc),
        }
    }

    /// Elements the replica held in some order must end in that order.
    pub fn check(&self, doc: &str, peer: usize, after: &Reading) {
        fn common<T: Eq + Hash + Clone>(a: &[T], b: &[T]) -> Vec<T> {
            let b: HashSet<&T> = b.iter().collect();
            a.iter().filter(|x| b.contains(x)).cloned().collect()
        }
        let text: Vec<char> = after.text.chars().collect();
        assert_eq!(
            common(&self.text, &text),
            common(&text, &self.text),
            "{doc}: characters peer {peer} held in one order ended in another"
        );
        assert_eq!(
            common(&self.list, &after.list),
            common(&after.list, &self.list),
            "{doc}: list items peer {peer} held in one order ended in another"
        );
    }
}

/// One edit, as the test chose it from what a replica held.
#[derive(Debug, Clone)]
pub enum Edit {
    Register(&'static str, String),
    Increment(i64),
    Add(&'static str),
    Remove(&'static str),
    Splice {
        pos: usize,
        del: usize,
        ins: String,
        deleted: String,
    },
    ListInsert(usize, i64),
    ListDelete(usize, i64),
    KeyPut(&'static str, String),
    KeyDelete(&'static str),
}

impl Edit {
    pub fn apply(&self, tx: &mut polyarch::Tx<'_>) -> Result<(), polyarch::ModelError> {
        match self {
            Edit::Register(r, v) => tx.register(["regs", r]).set(v.as_str()),
            Edit::Increment(by) => tx.counter("count").increment(*by),
            Edit::Add(e) => tx.set("tags").add(*e),
            Edit::Remove(e) => tx.set("tags").remove(e),
            Edit::Splice { pos, del, ins, .. } => tx.text("text").splice(*pos, *del, ins),
            Edit::ListInsert(i, v) => tx.list("list").insert(*i, *v),
            Edit::ListDelete(i, _) => tx.list("list").delete(*i),
            Edit::KeyPut(k, v) => tx.register(["kv", k]).set(v.as_str()),
            Edit::KeyDelete(k) => tx.map("kv").delete(k),
        }
    }

    /// Records the edit, made as change `id` by a replica that had seen `seen`.
    pub fn record(&self, m: &mut DocModel, id: ChangeId, seen: &VersionVector) {
        match self {
            Edit::Register(r, v) => m.write(&format!("regs/{r}"), id, seen, Some(v.clone())),
            Edit::Increment(by) => m.counter += by,
            Edit::Add(e) => m.set_op(e, id, seen, true),
            Edit::Remove(e) => m.set_op(e, id, seen, false),
            Edit::Splice { ins, deleted, .. } => {
                m.text.deleted.extend(deleted.chars());
                m.text.inserted.extend(ins.chars());
            }
            Edit::ListInsert(_, v) => {
                m.list.inserted.insert(*v);
            }
            Edit::ListDelete(_, v) => {
                m.list.deleted.insert(*v);
            }
            Edit::KeyPut(k, v) => m.write(&format!("kv/{k}"), id, seen, Some(v.clone())),
            Edit::KeyDelete(k) => m.write(&format!("kv/{k}"), id, seen, None),
        }
    }
}

/// Everything the test reads from a replica's document, through the typed views.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub json: serde_json::Value,
    pub counter: i64,
    pub members: BTreeSet<String>,
    pub text: String,
    pub list: Vec<i64>,
    /// Per register or present map key (`regs/<name>`, `kv/<key>`): the winner and every value.
    pub registers: BTreeMap<String, (Option<String>, BTreeSet<String>)>,
    pub kv_keys: BTreeSet<String>,
}

fn text_of(value: Value) -> String {
    match value {
        Value::Str(s) => s,
        other => panic!("the test writes only strings to registers, read {other:?}"),
    }
}

/// Reads a document through its typed views.
pub fn read<T>(
    repo: &mut Repo,
    doc: &str,
    f: impl FnOnce(&polyarch::DocView<'_>) -> Result<T, polyarch::ModelError>,
) -> T {
    repo.view(doc, f)
        .expect("load the document")
        .expect("read the document through typed views")
}

/// The test's list: unique integers.
pub fn read_list(repo: &mut Repo, doc: &str) -> Vec<i64> {
    list_of(read(repo, doc, |v| v.list("list").values()))
}

fn list_of(values: Vec<Value>) -> Vec<i64> {
    values
        .into_iter()
        .map(|value| match value {
            Value::Int(n) => n,
            other => panic!("the test puts only integers in the list, read {other:?}"),
        })
        .collect()
}

impl Reading {
    pub fn of(repo: &mut Repo, doc: &str) -> Self {
        let json = repo.to_json(doc).expect("read a document as JSON");
        read(repo, doc, |v| {
            let register = |path: [&str; 2]| -> Result<_, polyarch::ModelError> {
                let r = v.register(path);
                let all = r.conflicts()?.into_iter().map(text_of).collect();
                Ok((r.get()?.map(text_of), all))
            };
            let mut registers = BTreeMap::new();
            for name in REGS {
                registers.insert(format!("regs/{name}"), register(["regs", name])?);
            }
            let kv_keys: BTreeSet<String> = v.map("kv").keys()?.into_iter().collect();
            for key in &kv_keys {
                registers.insert(format!("kv/{key}"), register(["kv", key])?);
            }
            let list = list_of(v.list("list").values()?);
            let members: BTreeSet<String> = v.set("tags").members()?.into_iter().collect();
            assert!(
                members.iter().all(|m| ALPHABET.contains(&m.as_str())),
                "{doc}: the set holds a member never added: {members:?}"
            );
            Ok(Reading {
                json,
                counter: v.counter("count").value()?,
                members,
                text: v.text("text").to_string()?,
                list,
                registers,
                kv_keys,
            })
        })
    }
}
