//! [`SyncClient`]: keeps a replica in sync with a relay, reconnecting as needed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::sync::{Access, Session, SessionConfig, SessionStats};
use crate::{Committed, DeviceId, DocId, IntoDocId, ModelError, Receipt, Repo, Tx};

use super::drive::{Ended, Hooks, Shared, drive};
use super::refusals::Refusals;
use super::{ClientConfig, ClientError, ClientState};

/// Keeps a [`Repo`] in sync with a relay (or a peer) over WebSocket. Create it inside a Tokio
/// runtime; it runs as a task until [`close`](Self::close)d or dropped.
#[derive(Debug)]
pub struct SyncClient {
    shared: Shared,
    state: watch::Receiver<ClientState>,
    acked: watch::Receiver<u64>,
    relay: watch::Receiver<Option<DeviceId>>,
    stop: watch::Sender<bool>,
    kill: Arc<Notify>,
    error: Arc<Mutex<Option<String>>>,
    stats: Arc<Mutex<SessionStats>>,
    refused: Arc<Mutex<Refusals>>,
    task: Option<JoinHandle<()>>,
}

/// The owner's side of the client task.
struct Task {
    shared: Shared,
    config: ClientConfig,
    state: watch::Sender<ClientState>,
    acked: watch::Sender<u64>,
    relay: watch::Sender<Option<DeviceId>>,
    stop: watch::Receiver<bool>,
    kill: Arc<Notify>,
    error: Arc<Mutex<Option<String>>>,
    stats: Arc<Mutex<SessionStats>>,
    refused: Arc<Mutex<Refusals>>,
    /// The TLS connector for `config.url` (`None` for `ws://`), built once for every
    /// reconnection; or why the trusted certificates are unusable.
    tls: Result<Option<tokio_tungstenite::Connector>, String>,
}

/// The relay this replica met most recently, by label, and how far it acknowledged our log.
fn remembered_relay(repo: &Repo, config: &ClientConfig) -> (Option<DeviceId>, u64) {
    let store = repo.store();
    let hint = config.peer_hint.or_else(|| {
        let peers = store.peers().ok()?;
        peers
            .into_iter()
            .filter(|p| p.label == config.relay_label)
            .max_by_key(|p| p.last_contact_ms)
            .map(|p| p.peer)
    });
    let acked = hint
        .and_then(|d| store.peer(&d).ok().flatten())
        .map_or(0, |r| r.acked);
    (hint, acked)
}

impl SyncClient {
    /// Starts syncing `repo` as `config` says. Must be called within a Tokio runtime.
    pub fn start(repo: Arc<Mutex<Repo>>, config: ClientConfig) -> Self {
        let (hint, acked) = match repo.lock() {
            Ok(r) => remembered_relay(&r, &config),
            Err(_) => (None, 0),
        };
        let (changed, _) = watch::channel(0u64);
        let shared = Shared {
            repo,
            changed: Arc::new(changed),
        };
        let (state_tx, state) = watch::channel(ClientState::Connecting);
        let (acked_tx, acked) = watch::channel(acked);
        let (relay_tx, relay) = watch::channel(hint);
        let (stop, stop_rx) = watch::channel(false);
        let kill = Arc::new(Notify::new());
        let error = Arc::new(Mutex::new(None));
        let stats = Arc::new(Mutex::new(SessionStats::default()));
        let refused = Arc::new(Mutex::new(Refusals::default()));
        let task = Task {
            tls: super::tls::connector(&config.url, &config.trusted_certs_pem),
            stats: stats.clone(),
            refused: refused.clone(),
            shared: shared.clone(),
            config,
            state: state_tx,
            acked: acked_tx,
            relay: relay_tx,
            stop: stop_rx,
            kill: kill.clone(),
            error: error.clone(),
        };
        let task = tokio::spawn(task.run());
        Self {
            shared,
            state,
            acked,
            relay,
            stop,
            kill,
            error,
            stats,
            refused,
            task: Some(task),
        }
    }

    /// The replica this client syncs.
    pub fn repo(&self) -> &Arc<Mutex<Repo>> {
        &self.shared.repo
    }

    /// Tells the client that local changes were made (by locking the replica directly): it
    /// streams them now instead of at the next tick.
    pub fn notify(&self) {
        self.shared.bump();
    }

    /// Makes a change (see [`Repo::change`]) and streams it at once.
    pub fn change<T>(
        &self,
        doc: impl IntoDocId,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, ModelError>,
    ) -> Result<Committed<T>, ClientError> {
        let committed = {
            let mut repo = self.shared.repo.lock().map_err(|_| ClientError::Poisoned)?;
            repo.change(doc, f)?
        };
        self.notify();
        Ok(committed)
    }

    /// Where the client stands.
    pub fn state(&self) -> ClientState {
        *self.state.borrow()
    }

    /// A receiver that sees every state change.
    pub fn watch_state(&self) -> watch::Receiver<ClientState> {
        self.state.clone()
    }

    /// Waits until the client is in `state`, for at most `timeout`; returns whether it got there.
    pub async fn wait_for(&self, state: ClientState, timeout: Duration) -> bool {
        let mut rx = self.state.clone();
        tokio::time::timeout(timeout, rx.wait_for(|s| *s == state))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The relay (or peer) last met, once known.
    pub fn relay(&self) -> Option<DeviceId> {
        *self.relay.borrow()
    }

    /// How far the relay has acknowledged storing this replica's log.
    pub fn acked(&self) -> u64 {
        *self.acked.borrow()
    }

    /// The last connection error, if any (cleared by nothing: it says what went wrong last).
    pub fn last_error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }

    /// Counters of the current (or last) connection's session: frames, changes, and whether
    /// it had to fall back to a full resync.
    pub fn session_stats(&self) -> SessionStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// What the other side refused to store (changes to documents this connection may only
    /// read), as its messages, oldest first; kept across reconnections, at most
    /// [`MAX_REFUSALS_KEPT`](super::MAX_REFUSALS_KEPT). Those changes stay in the local
    /// replica. A relay acknowledges the log around them (the acknowledgement is a cursor and
    /// cannot skip a hole), so [`acked`](Self::acked) alone does not say a change was stored:
    /// [`wait_stored_by_relay`](Self::wait_stored_by_relay) and
    /// [`stored_by_relay`](Self::stored_by_relay) take refusals into account.
    pub fn refused(&self) -> Vec<String> {
        self.refused
            .lock()
            .map(|r| r.messages())
            .unwrap_or_default()
    }

    /// Whether the relay refused writes to `doc` through this client (its token may only
    /// read it).
    pub fn refuses(&self, doc: &DocId) -> bool {
        self.refused.lock().map_or(true, |r| r.refuses(doc))
    }

    /// Whether the relay has durably stored the change behind `receipt` ("on the relay"):
    /// it acknowledged our log past the change and did not refuse its document. Fails with
    /// [`ClientError::NotCommitted`] for a change still waiting for its group commit.
    pub fn stored_by_relay(&self, receipt: &Receipt) -> Result<bool, ClientError> {
        let offset = receipt.offset.ok_or(ClientError::NotCommitted)?;
        Ok(self.acked() >= offset && !self.refuses(&receipt.doc))
    }

    /// Resolves once the relay has durably stored the change behind `receipt`
    /// (semi-synchronous replication on demand). Fails with [`ClientError::WriteRefused`]
    /// when the relay refused the change's document instead.
    pub async fn wait_stored_by_relay(&self, receipt: &Receipt) -> Result<(), ClientError> {
        let offset = receipt.offset.ok_or(ClientError::NotCommitted)?;
        let refused = || ClientError::WriteRefused {
            doc: receipt.doc.clone(),
        };
        if self.refuses(&receipt.doc) {
            return Err(refused());
        }
        let mut acked = self.acked.clone();
        acked
            .wait_for(|a| *a >= offset)
            .await
            .map_err(|_| ClientError::Stopped {
                reason: self.last_error().unwrap_or_else(|| "closed".into()),
            })?;
        // A refusal is noted before the acknowledgement past it is published.
        match self.refuses(&receipt.doc) {
            true => Err(refused()),
            false => Ok(()),
        }
    }

    /// Drops the current connection as a network loss would (the client reconnects after its
    /// backoff). For tests and for apps that know the network changed.
    pub fn drop_connection(&self) {
        self.kill.notify_one();
    }

    /// Stops syncing and waits for the connection to close.
    pub async fn close(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SyncClient {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// A delay between `d / 2` and `d`, so that many clients do not reconnect in step.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    let half = d / 2;
    half + Duration::from_nanos(u64::from(nanos) % (half.as_nanos().max(1) as u64))
}

impl Task {
    fn set_error(&self, e: String) {
        tracing::debug!(url = %self.config.url, error = %e, "sync connection ended");
        if let Ok(mut slot) = self.error.lock() {
            *slot = Some(e);
        }
    }

    async fn run(mut self) {
        let mut backoff = self.config.min_backoff;
        loop {
            if *self.stop.borrow() {
                break;
            }
            self.state.send_replace(ClientState::Connecting);
            match self.connect_once().await {
                Ok(Ended::Stopped) => break,
                Ok(Ended::Refused(e)) => {
                    self.set_error(e);
                    break;
                }
                Ok(Ended::Lost(e)) => {
                    backoff = self.config.min_backoff;
                    self.set_error(e);
                }
                Err(e) => self.set_error(e),
            }
            self.state.send_replace(ClientState::Offline);
            tokio::select! {
                _ = tokio::time::sleep(jitter(backoff)) => {}
                _ = self.stop.changed() => break,
            }
            backoff = (backoff * 2).min(self.config.max_backoff);
        }
        self.state.send_replace(ClientState::Offline);
    }

    /// One connection: returns how it ended, or why it could not start.
    async fn connect_once(&mut self) -> Result<Ended, String> {
        let limits = self.config.limits;
        let tls = self.tls.clone()?;
        let connect = tokio_tungstenite::connect_async_tls_with_config(
            self.config.url.as_str(),
            Some(super::websocket_config(&limits)),
            true,
            tls,
        );
        let (mut ws, _) = tokio::time::timeout(self.config.connect_timeout, connect)
            .await
            .map_err(|_| format!("connecting to {} timed out", self.config.url))?
            .map_err(|e| {
                let e = e.to_string();
                let url = &self.config.url;
                format!("cannot connect to {url}: {e}{}", super::tls::hint(url, &e))
            })?;
        let mut session = Session::new(SessionConfig {
            interest: self.config.interest.clone(),
            peer_hint: *self.relay.borrow(),
            token: self.config.token.clone(),
            access: Access::full(),
            limits,
            frame_bytes: 256 << 10,
            ack_delay: self.config.ack_delay,
        });
        let initial = {
            let mut repo = self
                .shared
                .repo
                .lock()
                .map_err(|_| "the replica's lock is poisoned")?;
            session.start(&mut *repo).map_err(|e| e.to_string())?
        };
        self.state.send_replace(ClientState::CatchingUp);
        if let Ok(mut s) = self.stats.lock() {
            *s = SessionStats::default();
        }
        let hooks = Hooks {
            state: Some(&self.state),
            acked: Some(&self.acked),
            peer: Some(&self.relay),
            stop: self.stop.clone(),
            kill: Some(&self.kill),
            tick: self.config.tick,
            stats: Some(&self.stats),
            refused: Some(&self.refused),
        };
        Ok(drive(&mut ws, &mut session, &self.shared, hooks, initial).await)
    }
}
