//! `polyarch-relay`: the Polyarch relay server, and a tool to mint its access tokens.
//!
//! ```text
//! polyarch-relay serve --listen 0.0.0.0:8080 --db sqlite:/var/lib/polyarch/relay.db --secret-file /etc/polyarch/secret
//! polyarch-relay token mint --secret-file /etc/polyarch/secret --docs team-7/ --rights read-write --ttl 30d
//! ```
//! Every flag has an environment variable (shown in `--help`).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use polyarch::relay::{self, Claims, RelayConfig, Rights, Storage};

#[derive(Parser)]
#[command(
    name = "polyarch-relay",
    version,
    about = "Stores and forwards Polyarch changes between devices that are not online together"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves the sync protocol over WebSocket at /sync, with /healthz and /metrics.
    Serve(Serve),
    /// Access tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Prints a signed token granting rights on the documents whose id starts with a prefix.
    Mint(Mint),
}

#[derive(Args)]
struct Secret {
    /// The secret tokens are signed with (at least 16 bytes). Prefer --secret-file.
    #[arg(long, env = "POLYARCH_RELAY_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// A file holding the secret (surrounding whitespace is ignored).
    #[arg(long, env = "POLYARCH_RELAY_SECRET_FILE")]
    secret_file: Option<std::path::PathBuf>,
}

impl Secret {
    fn load(&self) -> Result<Option<Vec<u8>>, String> {
        match (&self.secret, &self.secret_file) {
            (Some(s), None) => Ok(Some(s.as_bytes().to_vec())),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map(|s| Some(s.trim().as_bytes().to_vec()))
                .map_err(|e| format!("cannot read the secret file {}: {e}", path.display())),
            (None, None) => Ok(None),
            (Some(_), Some(_)) => Err("give --secret or --secret-file, not both".into()),
        }
    }
}

#[derive(Args)]
struct Tls {
    /// Serve TLS (wss://, https://) with this certificate chain (PEM, the relay's own
    /// certificate first). Needs --tls-key. Without it, the relay serves plain TCP: put it
    /// behind a TLS-terminating proxy on the internet.
    #[arg(long, env = "POLYARCH_RELAY_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "POLYARCH_RELAY_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
}

impl Tls {
    fn load(&self) -> Result<Option<relay::TlsIdentity>, String> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        relay::TlsIdentity::from_pem_files(cert, key)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

#[derive(Args)]
struct Serve {
    /// Address to listen on.
    #[arg(long, env = "POLYARCH_RELAY_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Storage: sqlite:PATH or postgres://user@host:port/db.
    #[arg(
        long,
        env = "POLYARCH_RELAY_DB",
        default_value = "sqlite:polyarch-relay.db"
    )]
    db: String,
    #[command(flatten)]
    secret: Secret,
    #[command(flatten)]
    tls: Tls,
    /// Serve without tokens: every client may read and write everything. Private networks and
    /// tests only.
    #[arg(long, env = "POLYARCH_RELAY_INSECURE_NO_AUTH")]
    insecure_no_auth: bool,
    /// Most simultaneous connections.
    #[arg(long, env = "POLYARCH_RELAY_MAX_CONNECTIONS", default_value_t = 20_000)]
    max_connections: usize,
    /// Close connections silent for this long (e.g. 120s, 5m).
    #[arg(long, env = "POLYARCH_RELAY_IDLE_TIMEOUT", default_value = "120s", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// Largest frame accepted, in bytes.
    #[arg(long, env = "POLYARCH_RELAY_MAX_FRAME_BYTES", default_value_t = 8 << 20)]
    max_frame_bytes: usize,
    /// Most changes accepted in one frame.
    #[arg(
        long,
        env = "POLYARCH_RELAY_MAX_CHANGES_PER_FRAME",
        default_value_t = 20_000
    )]
    max_changes_per_frame: usize,
    /// Bytes a connection may have queued before it is cut off as too slow.
    #[arg(long, env = "POLYARCH_RELAY_MAX_OUTBOUND_BYTES", default_value_t = 32 << 20)]
    max_outbound_bytes: usize,
    /// Compact a document after this many logged changes (0: never).
    #[arg(long, env = "POLYARCH_RELAY_COMPACT_AFTER", default_value_t = 2_000)]
    compact_after: u64,
    /// SQLite commit durability: full survives power loss, normal survives a crash.
    #[arg(long, env = "POLYARCH_RELAY_SYNC", value_enum, default_value_t = SyncMode::Full)]
    sync: SyncMode,
    /// Log format.
    #[arg(long, env = "POLYARCH_RELAY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum SyncMode {
    Full,
    Normal,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum RightsArg {
    Read,
    ReadWrite,
}

#[derive(Args)]
struct Mint {
    #[command(flatten)]
    secret: Secret,
    /// Document id prefix the token covers ("" for every document).
    #[arg(long)]
    docs: String,
    /// What the holder may do.
    #[arg(long, value_enum)]
    rights: RightsArg,
    /// How long the token is valid (e.g. 1h, 30d).
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    ttl: Duration,
    /// Bind the token to one device id (32 hex digits).
    #[arg(long)]
    device: Option<String>,
}

/// Parses `90`, `45s`, `30m`, `12h` or `7d`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 45s, 30m, 12h or 7d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3_600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(format!("unknown unit {unit:?}: use s, m, h or d")),
    };
    Ok(Duration::from_secs(secs))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(serve) => run_serve(serve),
        Command::Token {
            command: TokenCommand::Mint(mint),
        } => run_mint(mint),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("polyarch-relay: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_mint(m: Mint) -> Result<(), String> {
    let secret = m
        .secret
        .load()?
        .ok_or("give the relay's secret with --secret-file or --secret")?;
    if let Some(d) = &m.device {
        polyarch::DeviceId::from_hex(d).map_err(|e| e.to_string())?;
    }
    let claims = Claims {
        prefix: m.docs,
        rights: match m.rights {
            RightsArg::Read => Rights::Read,
            RightsArg::ReadWrite => Rights::ReadWrite,
        },
        expires_at: relay::token::unix_now().saturating_add(m.ttl.as_secs()),
        device: m.device.map(|d| d.to_ascii_lowercase()),
    };
    let token = relay::token::mint(&secret, &claims).map_err(|e| e.to_string())?;
    println!("{token}");
    Ok(())
}

fn run_serve(s: Serve) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("POLYARCH_RELAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match s.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    let secret = s.secret.load()?;
    if secret.is_none() && !s.insecure_no_auth {
        return Err("give a token secret (--secret-file or --secret), or --insecure-no-auth to serve everyone".into());
    }
    let mut config = RelayConfig::new(Storage::parse(&s.db).map_err(|e| e.to_string())?);
    config.secret = secret;
    config.tls = s.tls.load()?;
    config.max_connections = s.max_connections;
    config.idle_timeout = s.idle_timeout;
    config.limits.max_frame_bytes = s.max_frame_bytes;
    config.limits.max_changes_per_frame = s.max_changes_per_frame;
    config.max_outbound_bytes = s.max_outbound_bytes;
    config.compact_after = s.compact_after;
    config.full_sync = matches!(s.sync, SyncMode::Full);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(s.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", s.listen))?;
        // Announce the bound address (useful with port 0) on stdout.
        if let Ok(addr) = listener.local_addr() {
            println!("listening on {addr}");
        }
        relay::run(listener, shutdown_signal(), config)
            .await
            .map_err(|e| e.to_string())
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
