//! Serving peers: another device connects to this one over WebSocket (`ws://`, or `wss://`
//! with a [`TlsIdentity`]), with no relay.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::server::TlsStream;

use crate::Repo;
use crate::sync::{Limits, Session, SessionConfig};

use super::drive::{Ended, Hooks, Shared, drive};
use super::tls_server::{TlsIdentity, TlsListener};

/// How [`serve`] accepts peers.
#[derive(Debug, Clone, Default)]
pub struct ServeConfig {
    /// Serve TLS (`wss://`) with this identity; `None` serves plain `ws://`. Peers must trust
    /// the certificate (a private one through
    /// [`ClientConfig::trusted_certs_pem`](super::ClientConfig::trusted_certs_pem)) and connect
    /// with a host name or address it lists.
    pub tls: Option<TlsIdentity>,
}

/// Accepts peers on `listener` (any path) and syncs each with `repo` until `shutdown`
/// resolves. Peers are trusted fully (run it on networks you trust; TLS in `config` keeps
/// the traffic private, it does not check who connects). Changes received from one peer are
/// streamed to the others.
pub async fn serve(
    listener: TcpListener,
    repo: Arc<Mutex<Repo>>,
    shutdown: impl Future<Output = ()> + Send,
    config: ServeConfig,
) -> Result<(), super::ClientError> {
    let mut incoming = match &config.tls {
        None => Incoming::Plain(listener),
        Some(identity) => Incoming::Tls(TlsListener::new(listener, identity)?),
    };
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
            accepted = incoming.accept() => {
                let (shared, stop) = (shared.clone(), stop_rx.clone());
                match accepted? {
                    (Connection::Plain(stream), addr) => {
                        tasks.spawn(sync_peer(stream, addr, shared, stop))
                    }
                    (Connection::Tls(stream), addr) => {
                        tasks.spawn(sync_peer(stream, addr, shared, stop))
                    }
                };
            }
        }
    }
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Where peers come from: plain TCP, or TCP with TLS handshakes completed off the accept
/// loop.
enum Incoming {
    Plain(TcpListener),
    Tls(TlsListener),
}

/// A peer's connection, before the WebSocket handshake.
enum Connection {
    Plain(TcpStream),
    /// Boxed: a TLS stream holds its session state inline, a socket is a handle.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Incoming {
    async fn accept(&mut self) -> std::io::Result<(Connection, SocketAddr)> {
        match self {
            Self::Plain(listener) => {
                let (stream, addr) = listener.accept().await?;
                Ok((Connection::Plain(stream), addr))
            }
            Self::Tls(listener) => {
                let (stream, addr) = listener.accept().await;
                Ok((Connection::Tls(Box::new(stream)), addr))
            }
        }
    }
}

/// Completes the WebSocket handshake of the peer at `addr`, then syncs with it until it
/// leaves or `stop` is set.
async fn sync_peer<S>(stream: S, addr: SocketAddr, shared: Shared, stop: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
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
}
