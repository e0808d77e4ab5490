//! The network side: the HTTP server, one task per WebSocket connection, and [`run`].

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::SinkExt;
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::time::{Instant, sleep_until, timeout};

use crate::sync::{Access, Message, RefusalCode, wire};

use super::core::{self, ConnId, Event, Outbound, refusal};
use super::metrics::{Metrics, Reason};
use super::token::{self, TokenError};
use super::{RelayConfig, RelayError, Storage, checkpoint, compact};

/// How long one frame may take to write before the client counts as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct App {
    core: Sender<Event>,
    config: Arc<RelayConfig>,
    metrics: Arc<Metrics>,
    active: Arc<AtomicUsize>,
    idle: Arc<Notify>,
    next_id: Arc<AtomicU64>,
    stop: watch::Receiver<bool>,
}

/// Counts a live connection; the count drops (and waiters wake) when it is dropped.
struct ConnGuard {
    active: Arc<AtomicUsize>,
    idle: Arc<Notify>,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        if self.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }
}

/// Serves the relay on `listener` until `shutdown` resolves, then stops accepting, lets every
/// connection finish the messages it sent (they are committed and acknowledged), and returns.
pub async fn run(
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    config: RelayConfig,
) -> Result<(), RelayError> {
    run_with_metrics(listener, shutdown, config, Arc::new(Metrics::new())).await
}

/// Like [`run`], with metrics the caller can read too.
pub async fn run_with_metrics(
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    config: RelayConfig,
    metrics: Arc<Metrics>,
) -> Result<(), RelayError> {
    if let Some(secret) = &config.secret
        && secret.len() < token::MIN_SECRET_BYTES
    {
        return Err(TokenError::WeakSecret { len: secret.len() }.into());
    }
    let config = Arc::new(config);
    let (core_tx, core_rx) = std::sync::mpsc::channel::<Event>();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<(), RelayError>>();
    let core_thread = {
        let config = config.clone();
        let metrics = metrics.clone();
        let core_tx = core_tx.clone();
        std::thread::Builder::new()
            .name("polyarch-relay-core".into())
            .spawn(move || {
                let started = (|| {
                    let mut store = config.storage.open(config.full_sync)?;
                    // SQLite: checkpoints move off the core's thread (see checkpoint.rs).
                    let finish_log = Arc::new(AtomicBool::new(false));
                    let checkpointer = match &config.storage {
                        Storage::Sqlite(_) => {
                            let other = config.storage.open(config.full_sync)?;
                            let (tx, rx) = std::sync::mpsc::channel::<()>();
                            let finish = finish_log.clone();
                            std::thread::Builder::new()
                                .name("polyarch-relay-checkpointer".into())
                                .spawn(move || {
                                    checkpoint::run(other, rx, finish, checkpoint::EVERY)
                                })
                                .map_err(|source| RelayError::Io {
                                    op: "starting the checkpointer thread",
                                    source,
                                })?;
                            store.checkpoint_elsewhere()?;
                            Some(tx)
                        }
                        _ => None,
                    };
                    let compactor = if config.compact_after > 0 {
                        let store = config.storage.open(config.full_sync)?;
                        let (tx, rx) = std::sync::mpsc::channel();
                        let core_tx = core_tx.clone();
                        std::thread::Builder::new()
                            .name("polyarch-relay-compactor".into())
                            .spawn(move || compact::run(store, rx, core_tx))
                            .map_err(|source| RelayError::Io {
                                op: "starting the compactor thread",
                                source,
                            })?;
                        Some(tx)
                    } else {
                        None
                    };
                    let core = core::build(store, config, metrics, core_rx, compactor, finish_log)?;
                    Ok::<_, RelayError>((core, checkpointer))
                })();
                match started {
                    Ok((core, _checkpointer)) => {
                        let _ = ready_tx.send(Ok(()));
                        core.run();
                        // Dropping `_checkpointer` here makes the checkpointer finish.
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(|source| RelayError::Io {
                op: "starting the core thread",
                source,
            })?
    };
    ready_rx.await.map_err(|_| RelayError::CoreStopped {
        reason: "it panicked while starting".into(),
    })??;

    let listening = Arc::new(AtomicBool::new(true));
    if let Storage::Postgres(url) = &config.storage {
        spawn_listener(url.clone(), core_tx.clone(), listening.clone())?;
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let app = App {
        core: core_tx.clone(),
        config: config.clone(),
        metrics,
        active: Arc::new(AtomicUsize::new(0)),
        idle: Arc::new(Notify::new()),
        next_id: Arc::new(AtomicU64::new(1)),
        stop: stop_rx,
    };
    let router = Router::new()
        .route("/sync", get(sync))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics_text))
        .with_state(app.clone());
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "relay listening");
    }
    let shutdown = async move {
        shutdown.await;
        tracing::info!("shutting down: finishing open connections");
        let _ = stop_tx.send(true);
    };
    let served = match &config.tls {
        None => {
            axum::serve(without_nagle(listener), router)
                .with_graceful_shutdown(shutdown)
                .await
        }
        Some(identity) => {
            let listener = crate::net::TlsListener::new(listener, identity).map_err(|source| {
                RelayError::Io {
                    op: "starting to serve TLS",
                    source,
                }
            })?;
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
        }
    };

    // Upgraded connections outlive the HTTP server: wait for them to finish.
    let deadline = Instant::now() + config.shutdown_timeout;
    while app.active.load(Ordering::Acquire) > 0 {
        let notified = app.idle.notified();
        if app.active.load(Ordering::Acquire) == 0 {
            break;
        }
        if timeout(deadline.saturating_duration_since(Instant::now()), notified)
            .await
            .is_err()
        {
            tracing::warn!("shutdown timeout: closing the remaining connections");
            break;
        }
    }
    listening.store(false, Ordering::Release);
    let _ = core_tx.send(Event::Shutdown);
    drop(core_tx);
    drop(app);
    let joined = tokio::task::spawn_blocking(move || core_thread.join())
        .await
        .map_err(|e| RelayError::CoreStopped {
            reason: e.to_string(),
        })?;
    if joined.is_err() {
        return Err(RelayError::CoreStopped {
            reason: "it panicked".into(),
        });
    }
    served.map_err(|source| RelayError::Io {
        op: "serving",
        source,
    })
}

/// The listener with Nagle's algorithm turned off on every accepted connection. Frames are
/// small and latency matters: with Nagle on, a frame written while the previous one is not yet
/// acknowledged waits for the client's delayed ACK (40 ms on Linux), which put a 40 ms floor
/// under live delivery (seen in `benches/relay_load.rs`: p50 40 ms at 10 documents).
fn without_nagle(
    listener: tokio::net::TcpListener,
) -> impl axum::serve::Listener<Io = tokio::net::TcpStream, Addr = std::net::SocketAddr> {
    use axum::serve::ListenerExt;
    listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on a connection");
        }
    })
}

impl axum::serve::Listener for crate::net::TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        crate::net::TlsListener::accept(self).await
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(crate::net::TlsListener::local_addr(self))
    }
}

/// Listens for other relays' commits (PostgreSQL), reconnecting after failures.
fn spawn_listener(
    url: String,
    core: Sender<Event>,
    running: Arc<AtomicBool>,
) -> Result<(), RelayError> {
    std::thread::Builder::new()
        .name("polyarch-relay-listener".into())
        .spawn(move || {
            while running.load(Ordering::Acquire) {
                let mut listener = match super::store::PgListener::connect(&url) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for other relays; retrying");
                        std::thread::sleep(Duration::from_secs(1));
                        continue;
                    }
                };
                while running.load(Ordering::Acquire) {
                    match listener.wait(Duration::from_millis(500)) {
                        Ok(Some(head)) => {
                            if core.send(Event::Head(head)).is_err() {
                                return;
                            }
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "lost the notification connection");
                            break;
                        }
                    }
                }
            }
        })
        .map(|_| ())
        .map_err(|source| RelayError::Io {
            op: "starting the listener thread",
            source,
        })
}

async fn metrics_text(State(app): State<App>) -> Response {
    let (tx, rx) = tokio::sync::oneshot::channel();
    if app.core.send(Event::Scrape(tx)).is_ok() {
        let _ = timeout(Duration::from_secs(2), rx).await;
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}

/// Bytes a connection gathers before writing to its socket, when frames go out in a burst.
const WRITE_BUFFER_BYTES: usize = 64 << 10;

async fn sync(ws: WebSocketUpgrade, State(app): State<App>) -> Response {
    if *app.stop.borrow() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    let before = app.active.fetch_add(1, Ordering::AcqRel);
    let guard = ConnGuard {
        active: app.active.clone(),
        idle: app.idle.clone(),
    };
    if before >= app.config.max_connections {
        drop(guard);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "5")],
            "too many connections; retry later\n",
        )
            .into_response();
    }
    let max = app.config.limits.max_frame_bytes;
    ws.max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(4 << 10)
        // Frames fed together are written together (see `send_burst`); a lone frame is
        // flushed at once.
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(max.saturating_mul(2))
        .on_upgrade(move |socket| async move {
            connection(socket, app).await;
            drop(guard);
        })
}

/// Sends one frame and a close, ignoring errors (the connection ends anyway).
async fn refuse_and_close(socket: &mut WebSocket, code: RefusalCode, message: &str) {
    if let Some(frame) = refusal(code, message) {
        let _ = timeout(
            WRITE_TIMEOUT,
            socket.send(WsMessage::Binary(Bytes::from(frame))),
        )
        .await;
    }
    let _ = timeout(Duration::from_secs(1), socket.send(WsMessage::Close(None))).await;
}

/// Waits for the hello and checks its token.
async fn handshake(socket: &mut WebSocket, app: &App) -> Option<(crate::sync::Hello, Access)> {
    let limits = &app.config.limits;
    let first = match timeout(app.config.idle_timeout, socket.recv()).await {
        Ok(Some(Ok(WsMessage::Binary(bytes)))) => bytes,
        Ok(Some(Ok(_))) => {
            refuse_and_close(
                socket,
                RefusalCode::BadRequest,
                "send protocol frames as binary messages",
            )
            .await;
            app.metrics.disconnected(Reason::BadFrame);
            return None;
        }
        _ => return None,
    };
    app.metrics.frames_in.inc();
    app.metrics.bytes_in.inc_by(first.len() as u64);
    let hello = match wire::decode(&first, limits) {
        Ok(Message::Hello(hello)) => hello,
        Ok(_) => {
            refuse_and_close(
                socket,
                RefusalCode::BadRequest,
                "the first frame must be a hello",
            )
            .await;
            app.metrics.disconnected(Reason::BadFrame);
            return None;
        }
        Err(e) => {
            refuse_and_close(socket, RefusalCode::BadRequest, &e.to_string()).await;
            app.metrics.disconnected(Reason::BadFrame);
            return None;
        }
    };
    let access = match &app.config.secret {
        None => Access::full(),
        Some(secret) => match token::verify(secret, &hello.token, token::unix_now(), &hello.device)
        {
            Ok(claims) => claims.access(),
            Err(e) => {
                let code = match e {
                    TokenError::Expired { .. } => RefusalCode::Expired,
                    _ => RefusalCode::Unauthorized,
                };
                tracing::info!(device = %hello.device, error = %e, "refused a token");
                refuse_and_close(socket, code, &e.to_string()).await;
                app.metrics.disconnected(Reason::Unauthorized);
                return None;
            }
        },
    };
    Some((hello, access))
}

async fn connection(mut socket: WebSocket, app: App) {
    let Some((hello, access)) = handshake(&mut socket, &app).await else {
        return;
    };
    let id: ConnId = app.next_id.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let out = Outbound {
        tx,
        queued: Arc::new(AtomicUsize::new(0)),
        want_drain: Arc::new(AtomicBool::new(false)),
        kill: Arc::new(Notify::new()),
    };
    let (queued, want_drain, kill) = (out.queued.clone(), out.want_drain.clone(), out.kill.clone());
    if app
        .core
        .send(Event::Open {
            id,
            hello,
            access,
            out,
        })
        .is_err()
    {
        refuse_and_close(
            &mut socket,
            RefusalCode::Unavailable,
            "the relay is stopping",
        )
        .await;
        return;
    }
    let permits = Arc::new(Semaphore::new(app.config.max_inflight_frames.max(1)));
    let mut stop = app.stop.clone();
    let mut closing = false;
    let mut waiting: Option<Message> = None;
    let mut idle_at = Instant::now() + app.config.idle_timeout;
    let low_water = app.config.max_outbound_bytes / 4;
    loop {
        tokio::select! {
            biased;
            _ = kill.notified() => break,
            _ = stop.changed(), if !closing => {
                closing = true;
                // Hand over the message still waiting, then let the core finish and close.
                if let Some(message) = waiting.take()
                    && let Ok(permit) = permits.clone().acquire_owned().await
                {
                    let _ = app.core.send(Event::Message { id, parsed: parse_changes(&message, &app.config), message, _permit: permit });
                }
                let _ = app.core.send(Event::Close { id });
            }
            frame = rx.recv() => {
                let Some(frame) = frame else {
                    // The core is done with this connection.
                    let _ = timeout(Duration::from_secs(1), socket.send(WsMessage::Close(None))).await;
                    break;
                };
                // Frames queued behind this one go out in the same write: under load, a
                // device's acknowledgement and the changes for it leave in one system call.
                let mut burst = vec![frame];
                while burst.len() < MAX_BURST_FRAMES
                    && let Ok(next) = rx.try_recv()
                {
                    burst.push(next);
                }
                let n: usize = burst.iter().map(Vec::len).sum();
                let sent = tokio::select! {
                    r = timeout(app.config.write_timeout, send_burst(&mut socket, burst)) => match r {
                        Ok(Ok(())) => true,
                        Ok(Err(_)) => false,
                        Err(_) => {
                            // The client stopped reading: cut it off.
                            tracing::info!(conn = id, "write timed out; cutting off a client that does not read");
                            app.metrics.disconnected(Reason::TooSlow);
                            false
                        }
                    },
                    _ = kill.notified() => false,
                };
                if !sent {
                    break;
                }
                app.metrics.bytes_out.inc_by(n as u64);
                let left = queued.fetch_sub(n, Ordering::Relaxed).saturating_sub(n);
                if left <= low_water && want_drain.swap(false, Ordering::Relaxed) {
                    let _ = app.core.send(Event::Drained { id });
                }
            }
            permit = permits.clone().acquire_owned(), if waiting.is_some() => {
                let (Ok(permit), Some(message)) = (permit, waiting.take()) else { break };
                if app.core.send(Event::Message { id, parsed: parse_changes(&message, &app.config), message, _permit: permit }).is_err() {
                    break;
                }
            }
            msg = socket.recv(), if !closing && waiting.is_none() => {
                idle_at = Instant::now() + app.config.idle_timeout;
                match msg {
                    Some(Ok(WsMessage::Binary(bytes))) => {
                        app.metrics.frames_in.inc();
                        app.metrics.bytes_in.inc_by(bytes.len() as u64);
                        match wire::decode(&bytes, &app.config.limits) {
                            Ok(message) => waiting = Some(message),
                            Err(e) => {
                                tracing::info!(conn = id, error = %e, "malformed frame; closing");
                                app.metrics.disconnected(Reason::BadFrame);
                                refuse_and_close(&mut socket, RefusalCode::BadRequest, &e.to_string()).await;
                                break;
                            }
                        }
                    }
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
                    Some(Ok(WsMessage::Text(_))) => {
                        app.metrics.disconnected(Reason::BadFrame);
                        refuse_and_close(&mut socket, RefusalCode::BadRequest, "send protocol frames as binary messages").await;
                        break;
                    }
                    Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => break,
                }
            }
            _ = sleep_until(idle_at), if !closing => {
                app.metrics.disconnected(Reason::Idle);
                tracing::debug!(conn = id, "idle timeout");
                break;
            }
        }
    }
    let _ = app.core.send(Event::Close { id });
}

/// Most frames queued for a connection that go out in one write.
const MAX_BURST_FRAMES: usize = 64;

/// Writes `frames` into the socket's buffer, then flushes them together.
async fn send_burst(socket: &mut WebSocket, frames: Vec<Vec<u8>>) -> Result<(), axum::Error> {
    for f in frames {
        socket.feed(WsMessage::Binary(Bytes::from(f))).await?;
    }
    socket.flush().await
}

/// The changes `message` carries that parse, within the relay's size limit: parsing them
/// here, on the connection's task, spares the core thread (it checks each one again against
/// what it receives, and parses any that is missing).
fn parse_changes(message: &Message, config: &RelayConfig) -> VecDeque<automerge::Change> {
    match message {
        Message::Changes { changes, .. } => changes
            .iter()
            .filter(|c| c.bytes.len() <= config.max_change_bytes)
            .filter_map(|c| crate::sync::parse_change(c).ok())
            .collect(),
        _ => VecDeque::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::Listener as _;

    #[tokio::test]
    async fn accepted_connections_have_nagle_off() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut listener = without_nagle(listener);
        let client = tokio::spawn(tokio::net::TcpStream::connect(addr));
        let (accepted, _) = listener.accept().await;
        assert!(accepted.nodelay().unwrap(), "TCP_NODELAY must be set");
        drop(client.await.unwrap().unwrap());
    }
}
