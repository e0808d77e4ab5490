//! What the relay tests share: a throwaway PostgreSQL server, an in-process relay, token
//! minting, and helpers to edit and compare replicas.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use polyarch::relay::{self, Claims, RelayConfig, Rights, Storage};

/// The secret every test relay signs tokens with.
pub const SECRET: &[u8] = b"test-secret-0123456789";

/// A PostgreSQL server in a temporary directory, on a free loopback port; stopped on drop.
pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

fn find_pg_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

impl PgServer {
    /// Starts a server. Fails the test, saying how to install PostgreSQL, if it is missing.
    pub fn start() -> Self {
        let bin = find_pg_bin().unwrap_or_else(|| {
            panic!(
                "PostgreSQL server binaries not found (looked for /usr/lib/postgresql/*/bin/initdb). \
                 Install them with `apt-get install -y postgresql` (`cargo xtask test` does this)."
            )
        });
        let dir = tempfile::Builder::new()
            .prefix("polyarch-pg-")
            .tempdir()
            .expect("temp dir");
        let as_postgres = is_root();
        if as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(
                ok,
                "cannot give {} to the postgres user",
                dir.path().display()
            );
        }
        let server = Self {
            dir,
            bin,
            port: free_port(),
            as_postgres,
        };
        let data = server.dir.path().join("data");
        server.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--no-sync".as_ref(),
            ],
        );
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            server.port,
            server.dir.path().display()
        );
        let log = server.dir.path().join("log");
        server.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-o".as_ref(),
                opts.as_ref(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "start".as_ref(),
            ],
        );
        server
    }

    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn run(&self, tool: &str, args: &[&std::ffi::OsStr]) {
        let out = self
            .command(tool)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} failed: {}\n{}\nserver log: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
        );
    }

    /// The connection string of a database on this server, created if needed.
    pub fn database(&self, name: &str) -> String {
        let base = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        if name != "postgres" {
            let mut client = postgres::Client::connect(&base, postgres::NoTls).expect("connect");
            let _ = client.batch_execute(&format!("CREATE DATABASE {name}"));
        }
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// A relay running in-process on a free port; stopped (gracefully) on drop.
pub struct TestRelay {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), relay::RelayError>>>,
}

impl TestRelay {
    /// Starts a relay with `config` on its own runtime thread.
    pub fn start(config: RelayConfig) -> Self {
        let relay = Self::spawn(config);
        wait_healthy(relay.addr);
        relay
    }

    /// Starts a relay that serves TLS with `config.tls` (its `/healthz` is not plain HTTP,
    /// so this waits for its port instead).
    pub fn start_tls(config: RelayConfig) -> Self {
        assert!(config.tls.is_some(), "start_tls needs config.tls");
        Self::spawn(config)
    }

    fn spawn(config: RelayConfig) -> Self {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                addr_tx
                    .send(listener.local_addr().expect("addr"))
                    .expect("send addr");
                relay::run(
                    listener,
                    async move {
                        let _ = stop_rx.await;
                    },
                    config,
                )
                .await
            })
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("relay did not start");
        Self {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// The WebSocket URL of the relay.
    pub fn url(&self) -> String {
        format!("ws://{}/sync", self.addr)
    }

    /// Stops the relay gracefully and returns how it ended.
    pub fn stop(mut self) -> Result<(), relay::RelayError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), relay::RelayError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(t) => t.join().expect("relay thread panicked"),
            None => Ok(()),
        }
    }
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// The command that starts a `polyarch-relay` process on `127.0.0.1:port` over the SQLite file
/// `db`, signing with [`SECRET`], its warnings appended to `log`. Add flags, then spawn it.
pub fn relay_command(db: &Path, port: u16, log: &Path) -> std::process::Command {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("relay log");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_polyarch-relay"));
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--db")
        .arg(format!("sqlite:{}", db.display()))
        .env(
            "POLYARCH_RELAY_SECRET",
            std::str::from_utf8(SECRET).unwrap(),
        )
        .env("POLYARCH_RELAY_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::from(log));
    command
}

/// Waits until `/healthz` answers.
pub fn wait_healthy(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if http_get(addr, "/healthz").is_some_and(|b| b.contains("ok")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("relay at {addr} never became healthy");
}

/// A plain HTTP GET; the body, if the request worked.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// A relay config over a SQLite file in `dir`, signing with [`SECRET`].
pub fn sqlite_config(dir: &Path) -> RelayConfig {
    let mut c = RelayConfig::new(Storage::Sqlite(dir.join("relay.db")));
    c.secret = Some(SECRET.to_vec());
    c.full_sync = false;
    c
}

/// A token for documents starting with `prefix`, valid for `ttl_secs` (negative: expired).
pub fn token(prefix: &str, rights: Rights, ttl_secs: i64) -> String {
    let now = relay::token::unix_now() as i64;
    relay::token::mint(
        SECRET,
        &Claims {
            prefix: prefix.into(),
            rights,
            expires_at: (now + ttl_secs).max(0) as u64,
            device: None,
        },
    )
    .expect("mint")
}

/// A self-signed certificate for 127.0.0.1 and localhost, and its key, in PEM.
pub fn self_signed() -> (String, String) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("a certificate");
    (cert.pem(), signing_key.serialize_pem())
}

/// The tests' client settings for `url`: quick reconnections and ticks.
pub fn client_config(url: &str, token: &str) -> polyarch::net::ClientConfig {
    let mut config = polyarch::net::ClientConfig::new(url);
    config.token = token.to_string();
    config.min_backoff = Duration::from_millis(50);
    config.max_backoff = Duration::from_millis(500);
    config.tick = Duration::from_millis(200);
    config
}

/// A device: a replica in its own SQLite file, and a client when connected.
pub struct Device {
    /// The replica.
    pub repo: std::sync::Arc<std::sync::Mutex<polyarch::Repo>>,
    /// The connection to the relay, when connected.
    pub client: Option<polyarch::net::SyncClient>,
}

impl Device {
    /// Opens (or reopens) the replica at `path`.
    pub fn open(path: &Path) -> Self {
        let repo =
            polyarch::Repo::open(path, polyarch::RepoConfig::default()).expect("open replica");
        Self {
            repo: std::sync::Arc::new(std::sync::Mutex::new(repo)),
            client: None,
        }
    }

    /// Connects to the relay at `url` (inside a Tokio runtime).
    pub fn connect(&mut self, url: &str, token: &str) {
        self.connect_with(client_config(url, token));
    }

    /// Connects with `config` (inside a Tokio runtime).
    pub fn connect_with(&mut self, config: polyarch::net::ClientConfig) {
        self.client = Some(polyarch::net::SyncClient::start(self.repo.clone(), config));
    }

    /// Disconnects (waits for the connection to close).
    pub async fn disconnect(&mut self) {
        if let Some(c) = self.client.take() {
            c.close().await;
        }
    }

    /// The connected client.
    pub fn client(&self) -> &polyarch::net::SyncClient {
        self.client.as_ref().expect("connected")
    }

    /// Edits a document (and streams the change when connected).
    pub fn edit<T>(
        &self,
        doc: &str,
        f: impl FnOnce(&mut polyarch::Tx<'_>) -> Result<T, polyarch::ModelError>,
    ) -> polyarch::Committed<T> {
        let committed = self.repo.lock().unwrap().change(doc, f).expect("change");
        if let Some(c) = &self.client {
            c.notify();
        }
        committed
    }

    /// The document as JSON (null when absent).
    pub fn json(&self, doc: &str) -> serde_json::Value {
        let mut repo = self.repo.lock().unwrap();
        if repo.contains(doc).unwrap_or(false) {
            repo.to_json(doc).expect("json")
        } else {
            serde_json::Value::Null
        }
    }
}

/// Waits (asynchronously) until `f` holds, for at most `timeout`.
pub async fn until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// A multi-threaded runtime for a test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A raw protocol client: a WebSocket and frames built by hand.
pub type RawWs =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a raw WebSocket to the relay.
pub async fn raw_connect(url: &str) -> RawWs {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("connect")
        .0
}

/// A hello frame from a new device.
pub fn hello_frame(token: &str, interest: polyarch::sync::Interest) -> Vec<u8> {
    polyarch::sync::wire::encode(&polyarch::sync::Message::Hello(polyarch::sync::Hello {
        versions: (
            polyarch::sync::PROTOCOL_VERSION,
            polyarch::sync::PROTOCOL_VERSION,
        ),
        device: polyarch::DeviceId::random(),
        epoch: polyarch::Epoch::random(),
        head: 0,
        label: "raw".into(),
        resume: None,
        interest,
        token: token.into(),
    }))
}

/// Sends one binary message.
pub async fn raw_send(ws: &mut RawWs, frame: Vec<u8>) -> bool {
    use futures_util::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::binary(frame))
        .await
        .is_ok()
}

/// The next protocol message, `None` when the connection closed or nothing came in `wait`.
pub async fn raw_recv(ws: &mut RawWs, wait: Duration) -> Option<polyarch::sync::Message> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message as M;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(M::Binary(b)))) => {
                return polyarch::sync::wire::decode(&b, &polyarch::sync::Limits::default()).ok();
            }
            Ok(Some(Ok(M::Close(_)))) | Ok(None) | Ok(Some(Err(_))) | Err(_) => return None,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// Whether the relay closed the connection (within `wait`), skipping any frames still queued.
pub async fn raw_closed(ws: &mut RawWs, wait: Duration) -> bool {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message as M;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(M::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => return true,
            Ok(Some(Ok(_))) => continue,
            Err(_) => return false,
        }
    }
}
