//! Network commands: `serve` (peers connect to this replica) and `sync` (connect to a relay or
//! a peer), over [`polyarch::net`].

use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use polyarch::Repo;
use polyarch::net::{ClientConfig, ClientState, ServeConfig, SyncClient, TlsIdentity};
use polyarch::sync::SessionStats;

use super::{CliResult, open};

#[derive(Debug, Subcommand)]
pub(crate) enum NetCommand {
    /// Lets peers sync with this replica over WebSocket, with no relay.
    ///
    /// Runs until SIGTERM or Ctrl-C, then closes the replica. Prints the URL peers connect to
    /// on the first line of stdout: `ws://ADDR`, or `wss://ADDR` with --tls-cert. Peers are
    /// trusted fully (TLS keeps the traffic private, it does not check who connects): listen
    /// only on networks you trust.
    Serve {
        /// The replica's SQLite file (held open, so other commands cannot use it meanwhile).
        file: PathBuf,
        /// Address to listen on, e.g. 0.0.0.0:7070 for the LAN (port 0 picks a free port).
        #[arg(long)]
        listen: SocketAddr,
        #[command(flatten)]
        tls: ServeTls,
        /// Also stay in sync with this relay meanwhile (reconnecting with backoff): peers'
        /// changes reach the relay and the relay's reach peers.
        #[arg(long)]
        relay: Option<String>,
        /// Access token for --relay.
        #[arg(
            long,
            env = "POLYARCH_TOKEN",
            hide_env_values = true,
            default_value = ""
        )]
        token: String,
        #[command(flatten)]
        trust: Trust,
    },
    /// Syncs with a relay or a peer; once, or with --follow until stopped.
    ///
    /// The URL is a relay's (`ws://host:port/sync`) or what `polyarch serve` printed. Without
    /// --follow: one connection, until both sides hold everything and the other side has
    /// stored our changes; then prints one summary line and exits (status 1 if the connection
    /// fails or drops first: run it again, it resumes). With --follow: keeps syncing,
    /// reconnecting with backoff, until SIGTERM or Ctrl-C.
    Sync {
        /// The replica's SQLite file.
        file: PathBuf,
        /// The relay's or peer's WebSocket URL.
        url: String,
        /// Access token for the relay (minted by `polyarch-relay token mint`).
        #[arg(
            long,
            env = "POLYARCH_TOKEN",
            hide_env_values = true,
            default_value = ""
        )]
        token: String,
        #[command(flatten)]
        trust: Trust,
        /// Keep syncing (reconnecting after network loss) instead of exiting once in sync.
        #[arg(long)]
        follow: bool,
        /// Without --follow: give up after this many seconds.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
}

/// Which certificates a `wss://` connection trusts.
#[derive(Debug, Args)]
pub(crate) struct Trust {
    /// For the wss:// URL this command connects to (`sync`'s URL, `serve`'s --relay): also
    /// trust the certificates in this PEM file (a relay or peer with a private or self-signed
    /// certificate). The public web roots are always trusted. It has no say over who may
    /// connect to `serve`.
    #[arg(long, env = "POLYARCH_CA_FILE")]
    ca_file: Option<PathBuf>,
}

/// The certificate `serve` answers TLS with.
#[derive(Debug, Args)]
pub(crate) struct ServeTls {
    /// Serve TLS (wss://) with this certificate chain (PEM, this device's own certificate
    /// first). Needs --tls-key. Peers connect with wss:// and a host name or address the
    /// certificate lists, trusting it with `polyarch sync --ca-file` unless a public authority
    /// issued it. Without it, peers connect with plain ws://.
    #[arg(long, env = "POLYARCH_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "POLYARCH_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

impl ServeTls {
    fn load(&self) -> CliResult<Option<TlsIdentity>> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        TlsIdentity::from_pem_files(cert, key)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

impl Trust {
    fn pem(&self) -> CliResult<Vec<u8>> {
        match &self.ca_file {
            None => Ok(Vec::new()),
            Some(path) => std::fs::read(path)
                .map_err(|e| format!("cannot read the CA file {}: {e}", path.display())),
        }
    }
}

pub(crate) fn run(command: NetCommand) -> CliResult<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the network runtime: {e}"))?;
    match command {
        NetCommand::Serve {
            file,
            listen,
            tls,
            relay,
            token,
            trust,
        } => {
            let serving = ServeConfig { tls: tls.load()? };
            runtime.block_on(serve(&file, listen, serving, relay, token, trust.pem()?))
        }
        NetCommand::Sync {
            file,
            url,
            token,
            trust,
            follow,
            timeout,
        } => runtime.block_on(sync(
            &file,
            url,
            token,
            trust.pem()?,
            follow,
            Duration::from_secs(timeout),
        )),
    }
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT). The handlers are installed at once, not at the first
/// poll, so a signal that comes right after the caller printed its address is not missed.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Commits what is waiting and closes the replica, once every connection let go of it.
fn close(repo: Arc<Mutex<Repo>>) -> CliResult<()> {
    let repo = Arc::try_unwrap(repo)
        .map_err(|_| "the replica is still in use by a connection".to_string())?
        .into_inner()
        .map_err(|_| "the replica's lock is poisoned: a connection panicked".to_string())?;
    repo.close()
        .map_err(|e| format!("closing the replica: {e}"))
}

async fn serve(
    file: &FsPath,
    listen: SocketAddr,
    serving: ServeConfig,
    relay: Option<String>,
    token: String,
    trusted_pem: Vec<u8>,
) -> CliResult<()> {
    if let Some(url) = &relay {
        check_url(url)?;
    }
    let repo = Arc::new(Mutex::new(open(file)?));
    let shutdown = shutdown_signal();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    let scheme = if serving.tls.is_some() { "wss" } else { "ws" };
    println!("{scheme}://{addr}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let client = relay.map(|url| {
        let mut config = ClientConfig::new(url);
        config.token = token;
        config.trusted_certs_pem = trusted_pem;
        config.tick = Duration::from_millis(250);
        SyncClient::start(repo.clone(), config)
    });
    let served = polyarch::net::serve(listener, repo.clone(), shutdown, serving).await;
    if let Some(client) = client {
        client.close().await;
    }
    served.map_err(|e| format!("serving {addr}: {e}"))?;
    close(repo)?;
    eprintln!("polyarch: stopped serving {addr}; the replica is closed");
    Ok(())
}

async fn sync(
    file: &FsPath,
    url: String,
    token: String,
    trusted_pem: Vec<u8>,
    follow: bool,
    timeout: Duration,
) -> CliResult<()> {
    check_url(&url)?;
    let repo = Arc::new(Mutex::new(open(file)?));
    let mut config = ClientConfig::new(url.clone());
    config.token = token;
    config.trusted_certs_pem = trusted_pem;
    config.tick = Duration::from_millis(250);
    if !follow {
        // One connection: the client never gets to its second attempt.
        config.min_backoff = Duration::from_secs(24 * 3600);
        config.max_backoff = config.min_backoff;
        // Nothing of ours will come for an acknowledgement to travel with: answer at once.
        config.ack_delay = Duration::ZERO;
    }
    let client = SyncClient::start(repo.clone(), config);
    let outcome = if follow {
        follow_until_signal(&client).await;
        Ok(())
    } else {
        once(&client, &repo, &url, timeout).await
    };
    let stats = client.session_stats();
    let refused = client.refused();
    let peer = client.relay().map(|device| {
        let label = repo
            .lock()
            .ok()
            .and_then(|r| r.store().peer(&device).ok().flatten())
            .map(|p| p.label)
            .unwrap_or_default();
        (device, label)
    });
    client.close().await;
    close(repo)?;
    outcome?;
    println!("{}", summary(follow, peer, &stats));
    if let Some(first) = refused.first() {
        // The changes stay here; the other side acknowledged around them, so say it loudly.
        return Err(format!(
            "{url} refused {} write(s) (the token may only read those documents; the changes stay in this replica): {first}",
            refused.len()
        ));
    }
    Ok(())
}

fn check_url(url: &str) -> CliResult<()> {
    if url.starts_with("ws://") || url.starts_with("wss://") {
        return Ok(());
    }
    Err(format!(
        "{url:?} is not a WebSocket URL: give ws://host:port/sync or wss://host/sync (a relay) or the URL `polyarch serve` printed"
    ))
}

/// Waits until both sides hold everything and the other side acknowledged our whole log.
async fn once(
    client: &SyncClient,
    repo: &Arc<Mutex<Repo>>,
    url: &str,
    timeout: Duration,
) -> CliResult<()> {
    let deadline = Instant::now() + timeout;
    let log_head = || -> CliResult<u64> {
        Ok(repo
            .lock()
            .map_err(|_| "the replica's lock is poisoned".to_string())?
            .store()
            .log_head())
    };
    loop {
        match client.state() {
            ClientState::InSync => {
                if client.acked() >= log_head()? {
                    return Ok(());
                }
            }
            ClientState::Offline => {
                let why = client
                    .last_error()
                    .unwrap_or_else(|| "the connection closed".into());
                return Err(format!(
                    "sync with {url} did not finish: {why} (what was exchanged is kept; run the command again to resume)"
                ));
            }
            ClientState::Connecting | ClientState::CatchingUp => {}
        }
        if Instant::now() >= deadline {
            let head = log_head()?;
            return Err(format!(
                "sync with {url} did not finish within {}s: {}, our log acknowledged up to {} of {head} (what was exchanged is kept; run it again, or raise --timeout)",
                timeout.as_secs(),
                state_name(client.state()),
                client.acked(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Prints each state change until SIGTERM or Ctrl-C.
async fn follow_until_signal(client: &SyncClient) {
    let signal = shutdown_signal();
    let mut states = client.watch_state();
    tokio::pin!(signal);
    let mut last = None;
    loop {
        let state = *states.borrow_and_update();
        if last != Some(state) {
            last = Some(state);
            match (state, client.last_error()) {
                (ClientState::Offline, Some(why)) => println!("offline: {why}"),
                (state, _) => println!("{}", state_name(state)),
            }
        }
        tokio::select! {
            _ = &mut signal => return,
            changed = states.changed() => if changed.is_err() { return },
        }
    }
}

fn state_name(state: ClientState) -> &'static str {
    match state {
        ClientState::Connecting => "connecting",
        ClientState::CatchingUp => "catching up",
        ClientState::InSync => "in sync",
        ClientState::Offline => "offline",
    }
}

/// One line: who, whether it was a full resync, and what crossed the wire.
fn summary(
    follow: bool,
    peer: Option<(polyarch::DeviceId, String)>,
    stats: &SessionStats,
) -> String {
    let who = match peer {
        Some((device, label)) if !label.is_empty() => format!("{label} ({device})"),
        Some((device, _)) => device.to_string(),
        None => "nobody".to_owned(),
    };
    let verb = if follow {
        "stopped syncing with"
    } else {
        "in sync with"
    };
    format!(
        "{verb} {who}: full_resync={} changes_in={} changes_out={} frames_in={} frames_out={} bytes_in={} bytes_out={}",
        if stats.full_resync { "yes" } else { "no" },
        stats.changes_in,
        stats.changes_out,
        stats.frames_in,
        stats.frames_out,
        stats.bytes_in,
        stats.bytes_out,
    )
}
