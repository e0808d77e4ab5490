//! Serving peers: another device connects to this one over WebSocket, with no relay.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::Repo;
use crate::sync::{Limits, Session, SessionConfig};

use super::drive::{Ended, Hooks, Shared, drive};

/// Accepts peers on `listener` (any path) and syncs each with `repo` until `shutdown`
/// resolves. Peers are trusted fully (run it on networks you trust). Changes received from one
/// peer are streamed to the others.
pub async fn serve(
    listener: TcpListener,
    repo: Arc<Mutex<Repo>>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), super::ClientError> {
    let (changed, _) = watch::channel(0u64);
    let shared = Shared {
        repo,
        changed: Arc::new(changed),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, addr) = accepted?;
                let shared = shared.clone();
                let stop = stop_rx.clone();
                tasks.spawn(async move {
                    let config = super::websocket_config(&Limits::default());
                    let accepted = tokio_tungstenite::accept_async_with_config(stream, Some(config));
                    let mut ws = match accepted.await {
                        Ok(ws) => ws,
                        Err(e) => {
                            tracing::info!(%addr, error = %e, "not a WebSocket peer");
                            return;
                        }
                    };
                    let mut session = Session::new(SessionConfig::default());
                    let initial = match shared.repo.lock() {
                        Ok(mut repo) => session.start(&mut *repo),
                        Err(_) => return,
                    };
                    let Ok(initial) = initial else { return };
                    let hooks = Hooks {
                        state: None,
                        acked: None,
                        peer: None,
                        stop,
                        kill: None,
                        tick: Duration::from_secs(1),
                        stats: None,
                        refused: None,
                    };
                    match drive(&mut ws, &mut session, &shared, hooks, initial).await {
                        Ended::Lost(e) | Ended::Refused(e) => tracing::info!(%addr, error = %e, "peer left"),
                        Ended::Stopped => {}
                    }
                });
            }
        }
    }
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}
