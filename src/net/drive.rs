//! One WebSocket connection running one sync [`Session`] over a shared [`Repo`]: the loop the
//! client and the peer server share.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::{Notify, watch};
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};

use crate::Repo;
use crate::sync::{Limits, Message, RefusalCode, Session, SessionEvent, SessionState, wire};

use super::ClientState;

/// What connections to one replica share.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    pub(crate) repo: Arc<Mutex<Repo>>,
    /// Bumped after every local change or applied remote change: connections poll.
    pub(crate) changed: Arc<watch::Sender<u64>>,
}

impl Shared {
    pub(crate) fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// How a connection ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// The owner asked to stop.
    Stopped,
    /// The connection dropped or failed; reconnecting may help.
    Lost(String),
    /// The other side refused our credentials; reconnecting will not help.
    Refused(String),
}

/// Callbacks of a connection's owner.
pub(crate) struct Hooks<'a> {
    pub(crate) state: Option<&'a watch::Sender<ClientState>>,
    pub(crate) acked: Option<&'a watch::Sender<u64>>,
    pub(crate) peer: Option<&'a watch::Sender<Option<crate::DeviceId>>>,
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) kill: Option<&'a Notify>,
    pub(crate) tick: Duration,
    pub(crate) stats: Option<&'a Mutex<crate::sync::SessionStats>>,
    /// Where to note the writes the other side refused.
    pub(crate) refused: Option<&'a Mutex<super::refusals::Refusals>>,
}

fn lost(e: impl std::fmt::Display) -> Ended {
    Ended::Lost(e.to_string())
}

/// Sends frames in order.
async fn send_all<S>(ws: &mut S, frames: Vec<Vec<u8>>) -> Result<(), tungstenite::Error>
where
    S: Sink<WsMessage, Error = tungstenite::Error> + Unpin,
{
    let n = frames.len();
    for (i, f) in frames.into_iter().enumerate() {
        if i + 1 == n {
            ws.send(WsMessage::binary(f)).await?;
        } else {
            ws.feed(WsMessage::binary(f)).await?;
        }
    }
    Ok(())
}

/// Runs the session until the connection ends. `initial` are the frames `start` produced.
pub(crate) async fn drive<S>(
    ws: &mut S,
    session: &mut Session,
    shared: &Shared,
    mut hooks: Hooks<'_>,
    initial: Vec<Vec<u8>>,
) -> Ended
where
    S: Stream<Item = Result<WsMessage, tungstenite::Error>>
        + Sink<WsMessage, Error = tungstenite::Error>
        + Unpin,
{
    if let Err(e) = send_all(ws, initial).await {
        return lost(e);
    }
    let mut changed = shared.changed.subscribe();
    changed.mark_unchanged();
    let mut ticker = tokio::time::interval(hooks.tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let never = Notify::new();
    let kill = hooks.kill.unwrap_or(&never);
    loop {
        // An acknowledgement waiting to travel with a frame of ours goes on its own by then.
        let due = session
            .due_ms()
            .map(|at| Duration::from_millis(at.saturating_sub(Repo::now_ms())));
        let step: Result<Vec<Vec<u8>>, Ended> = tokio::select! {
            _ = hooks.stop.changed() => {
                let _ = ws.send(WsMessage::Close(None)).await;
                return Ended::Stopped;
            }
            _ = kill.notified() => return Ended::Lost("connection dropped on request".into()),
            msg = ws.next() => match msg {
                Some(Ok(WsMessage::Binary(bytes))) => {
                    // A server that refuses our hello answers with a refusal, not a hello.
                    if session.peer().is_none()
                        && let Ok(Message::Refused { code, message, .. }) =
                            wire::decode(&bytes, &Limits::default())
                    {
                        return match code {
                            RefusalCode::Unauthorized | RefusalCode::Expired | RefusalCode::Forbidden => {
                                Ended::Refused(message)
                            }
                            _ => Ended::Lost(message),
                        };
                    }
                    let received;
                    let result = {
                        let mut repo = match shared.repo.lock() {
                            Ok(r) => r,
                            Err(_) => return Ended::Lost("the replica's lock is poisoned".into()),
                        };
                        let before = session.stats().changes_in;
                        let r = session.receive(&mut *repo, &bytes);
                        received = session.stats().changes_in > before;
                        if let Some(slot) = hooks.stats
                            && let Ok(mut slot) = slot.lock()
                        {
                            *slot = session.stats().clone();
                        }
                        let state = session.state(&*repo);
                        if let Some(tx) = hooks.state {
                            tx.send_if_modified(|s| {
                                let new = match state {
                                    SessionState::Handshaking | SessionState::CatchingUp => ClientState::CatchingUp,
                                    SessionState::InSync => ClientState::InSync,
                                };
                                let changed = *s != new;
                                *s = new;
                                changed
                            });
                        }
                        r
                    };
                    match result {
                        Ok(frames) => {
                            if let Some(end) = handle_events(session, &hooks) {
                                return end;
                            }
                            if received {
                                // Other connections of this replica may want these changes.
                                shared.bump();
                                changed.mark_unchanged();
                            }
                            Ok(frames)
                        }
                        Err(e) => Err(lost(e)),
                    }
                }
                Some(Ok(WsMessage::Close(_))) | None => Err(Ended::Lost("the other side closed the connection".into())),
                Some(Ok(_)) => Ok(Vec::new()),
                Some(Err(e)) => Err(lost(e)),
            },
            _ = changed.changed() => poll(session, shared),
            _ = tokio::time::sleep(due.unwrap_or_default()), if due.is_some() => poll(session, shared),
            _ = ticker.tick() => {
                if let Ok(mut repo) = shared.repo.lock() {
                    let _ = repo.flush_due();
                }
                if let Err(e) = ws.send(WsMessage::Ping(Vec::new().into())).await {
                    return lost(e);
                }
                poll(session, shared)
            }
        };
        match step {
            Ok(frames) => {
                // A poll may settle acknowledgements too (a stretch holding nothing for the
                // other side counts as acknowledged once what precedes it is).
                if let Some(end) = handle_events(session, &hooks) {
                    return end;
                }
                if let Err(e) = send_all(ws, frames).await {
                    return lost(e);
                }
            }
            Err(end) => return end,
        }
    }
}

fn poll(session: &mut Session, shared: &Shared) -> Result<Vec<Vec<u8>>, Ended> {
    let mut repo = shared
        .repo
        .lock()
        .map_err(|_| Ended::Lost("the replica's lock is poisoned".into()))?;
    session.poll(&mut *repo).map_err(lost)
}

/// Passes session events to the owner; returns how the connection must end, if it must.
fn handle_events(session: &mut Session, hooks: &Hooks<'_>) -> Option<Ended> {
    for event in session.take_events() {
        match event {
            SessionEvent::Acked { upto } => {
                if let Some(tx) = hooks.acked {
                    tx.send_if_modified(|a| {
                        let more = upto > *a;
                        *a = (*a).max(upto);
                        more
                    });
                }
            }
            SessionEvent::PeerHello { device, .. } => {
                if let Some(tx) = hooks.peer {
                    tx.send_replace(Some(device));
                }
            }
            SessionEvent::Refused { code, message, doc } => match code {
                RefusalCode::Unauthorized | RefusalCode::Expired => {
                    return Some(Ended::Refused(message));
                }
                RefusalCode::Forbidden => {
                    tracing::warn!(%message, "the peer refused changes to a document");
                    // Noted before the acknowledgement that follows it is published, so
                    // that a wait for the relay's receipt never sees one without the other.
                    if let Some(slot) = hooks.refused
                        && let Ok(mut slot) = slot.lock()
                    {
                        slot.note(doc, message);
                    }
                }
                _ => tracing::warn!(?code, %message, "the peer refused a request"),
            },
            SessionEvent::RefusedChanges { .. } | SessionEvent::RestoredFromBackup => {}
        }
    }
    None
}
