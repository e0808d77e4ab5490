//! The whole flow from a shell, with real processes on loopback: a `polyarch-relay` process,
//! device replicas edited with the `polyarch` command line while disconnected, then
//! `polyarch sync` in different orders; peer to peer with `polyarch serve`; a device restarted
//! from its file resuming incrementally; and connections cut at random points by a proxy.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use polyarch::relay::Rights;
use rand::{Rng, SeedableRng};

use crate::cli_edit::{ok, polyarch};
use crate::relay_support::{free_port, relay_command, token, wait_healthy};

/// Generous: the machine running the tests may be loaded.
const SYNC_TIMEOUT: &str = "120";

/// A `polyarch-relay` process over SQLite; killed when dropped.
struct RelayProcess {
    child: Child,
    addr: SocketAddr,
}

impl RelayProcess {
    fn start(dir: &Path) -> Self {
        let port = free_port();
        let child = relay_command(&dir.join("relay.db"), port, &dir.join("relay.log"))
            .spawn()
            .expect("start polyarch-relay");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let relay = Self { child, addr };
        wait_healthy(addr);
        relay
    }

    fn url(&self) -> String {
        format!("ws://{}/sync", self.addr)
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A device: a replica file driven by the command line.
struct Device {
    file: PathBuf,
}

impl Device {
    fn init(dir: &Path, name: &str) -> Self {
        let file = dir.join(format!("{name}.db"));
        ok(&["init", file.to_str().unwrap()]);
        Self { file }
    }

    fn path(&self) -> &str {
        self.file.to_str().unwrap()
    }

    /// Runs an editing command: `edit(&["set", "cal", "title", "x"])`.
    fn edit(&self, args: &[&str]) {
        let mut full = vec![args[0], self.path()];
        full.extend(&args[1..]);
        ok(&full);
    }

    fn get(&self, doc: &str, path: &str) -> Vec<String> {
        ok(&["get", self.path(), doc, path])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn dump(&self, doc: &str) -> serde_json::Value {
        serde_json::from_str(&ok(&["dump", self.path(), doc])).expect("dump is JSON")
    }

    fn sync_output(&self, url: &str, token: &str) -> Output {
        polyarch(&[
            "sync",
            self.path(),
            url,
            "--token",
            token,
            "--timeout",
            SYNC_TIMEOUT,
        ])
    }

    /// Syncs once; returns the summary line's `key=value` pairs.
    fn sync(&self, url: &str, token: &str) -> Summary {
        let out = self.sync_output(url, token);
        assert!(
            out.status.success(),
            "sync of {} failed: {}",
            self.path(),
            String::from_utf8_lossy(&out.stderr)
        );
        Summary::parse(&String::from_utf8_lossy(&out.stdout))
    }
}

/// The summary line `polyarch sync` prints.
#[derive(Debug)]
struct Summary {
    line: String,
}

impl Summary {
    fn parse(stdout: &str) -> Self {
        let line = stdout
            .lines()
            .find(|l| l.starts_with("in sync with"))
            .unwrap_or_else(|| panic!("no summary line in {stdout:?}"))
            .to_owned();
        Self { line }
    }

    fn field(&self, key: &str) -> &str {
        self.line
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {key} in {:?}", self.line))
    }

    fn number(&self, key: &str) -> u64 {
        self.field(key).parse().expect("a number")
    }

    fn full_resync(&self) -> bool {
        self.field("full_resync") == "yes"
    }

    fn bytes(&self) -> u64 {
        self.number("bytes_in") + self.number("bytes_out")
    }
}

fn assert_converged(devices: &[&Device], docs: &[&str]) {
    for doc in docs {
        let first = devices[0].dump(doc);
        for d in &devices[1..] {
            assert_eq!(d.dump(doc), first, "{doc} differs on {}", d.path());
        }
    }
}

#[test]
fn three_devices_edit_offline_and_converge_through_a_relay_process() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(dir.path());
    let url = relay.url();
    let tok = token("", Rights::ReadWrite, 3600);
    let devs: Vec<Device> = ["phone", "laptop", "tablet"]
        .iter()
        .map(|n| Device::init(dir.path(), n))
        .collect();

    // Offline edits on every device, including a concurrent write to one register.
    for (i, d) in devs.iter().enumerate() {
        let name = format!("dev{i}");
        d.edit(&["set", "cal", "events/e1/title", &format!("Title by {name}")]);
        d.edit(&["add", "cal", "events/e1/guests", &name]);
        d.edit(&["incr", "cal", "events/e1/rsvp", &format!("{}", i + 2)]);
        d.edit(&["append", "notes", &format!("by/{name}"), "offline line"]);
    }
    devs[2].edit(&["incr", "cal", "events/e1/rsvp", "-1"]);
    devs[0].edit(&["add", "cal", "events/e1/guests", "zed"]);

    // Reconnect in one order (each brings what it has), then another (each pulls the rest).
    for (k, i) in [1, 2, 0].into_iter().enumerate() {
        let s = devs[i].sync(&url, &tok);
        // The first device meets an empty relay: nothing to compare, nothing to resync.
        assert_eq!(s.full_resync(), k > 0, "first contact: {s:?}");
    }
    for i in [0, 2, 1] {
        let s = devs[i].sync(&url, &tok);
        assert!(!s.full_resync(), "a known relay resumes: {s:?}");
    }
    let all: Vec<&Device> = devs.iter().collect();
    assert_converged(&all, &["cal", "notes"]);

    let cal = devs[0].dump("cal");
    assert_eq!(cal["events"]["e1"]["rsvp"], 2 + 3 + 4 - 1, "{cal}");
    let guests = cal["events"]["e1"]["guests"].as_object().expect("a set");
    assert_eq!(guests.len(), 4, "{cal}");
    // The conflict is visible, the same everywhere: every concurrent value, the winner first.
    let titles = devs[0].get("cal", "events/e1/title");
    assert_eq!(titles.len(), 3, "{titles:?}");
    for (i, d) in devs.iter().enumerate() {
        assert!(
            titles.contains(&format!("\"Title by dev{i}\"")),
            "{titles:?}"
        );
        assert_eq!(d.get("cal", "events/e1/title"), titles);
    }
    assert_eq!(devs[1].dump("notes")["by"].as_object().unwrap().len(), 3);

    // Resolving the conflict and removing a member (seen by the remover) reach everyone.
    devs[1].edit(&["set", "cal", "events/e1/title", "Agreed title"]);
    devs[1].edit(&["remove", "cal", "events/e1/guests", "zed"]);
    for i in [1, 0, 2] {
        devs[i].sync(&url, &tok);
    }
    devs[1].sync(&url, &tok);
    assert_converged(&all, &["cal", "notes"]);
    for d in &devs {
        assert_eq!(d.get("cal", "events/e1/title"), ["\"Agreed title\""]);
        let guests = d.dump("cal")["events"]["e1"]["guests"].clone();
        assert!(guests.get("zed").is_none(), "{guests}");
        assert_eq!(guests.as_object().unwrap().len(), 3);
    }
    drop(relay);
}

#[test]
fn a_device_restarted_from_its_file_resumes_incrementally() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(dir.path());
    let url = relay.url();
    let tok = token("", Rights::ReadWrite, 3600);
    let writer = Device::init(dir.path(), "writer");
    let big = "lorem ipsum dolor sit amet ".repeat(40);
    for i in 0..30 {
        writer.edit(&["append", "book", &format!("chapters/c{i}"), &big]);
    }
    let first = writer.sync(&url, &tok);
    assert_eq!(first.number("changes_out"), 30, "{first:?}");

    // Every `polyarch` run is a restart from the file: one more change, then sync again.
    writer.edit(&["incr", "book", "edits", "1"]);
    let again = writer.sync(&url, &tok);
    assert!(!again.full_resync(), "resumed from the cursor: {again:?}");
    assert_eq!(again.number("changes_out"), 1, "{again:?}");
    assert_eq!(again.number("changes_in"), 0, "{again:?}");
    assert!(
        again.bytes() < 4096 && again.bytes() * 4 < first.bytes(),
        "incremental: {again:?} after {first:?}"
    );
    // Nothing new: still a resume, and almost nothing on the wire.
    let idle = writer.sync(&url, &tok);
    assert!(!idle.full_resync(), "{idle:?}");
    assert_eq!(idle.number("changes_out") + idle.number("changes_in"), 0);

    // A new device bootstraps everything; its second sync is incremental too.
    let reader = Device::init(dir.path(), "reader");
    let boot = reader.sync(&url, &tok);
    assert_eq!(boot.number("changes_in"), 31, "{boot:?}");
    assert_eq!(reader.dump("book"), writer.dump("book"));
    let resumed = reader.sync(&url, &tok);
    assert!(!resumed.full_resync(), "{resumed:?}");
    assert_eq!(resumed.number("changes_in"), 0, "{resumed:?}");

    // A read-only token: the device still reads, its write is refused, and the command says so.
    let viewer = Device::init(dir.path(), "viewer");
    viewer.edit(&["incr", "book", "edits", "1"]);
    let out = viewer.sync_output(&url, &token("", Rights::Read, 3600));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused 1 write"), "{err}");
    assert_eq!(
        viewer.dump("book")["edits"],
        2,
        "read, and kept its own write"
    );
    assert_eq!(writer.dump("book")["edits"], 1);
    drop(relay);
}

/// `polyarch serve FILE --listen 127.0.0.1:0`; stopped with SIGTERM, killed if the test fails
/// (shared with `peers_over_tls`).
pub(crate) struct ServeProcess {
    child: Child,
    /// The URL it printed.
    pub(crate) url: String,
}

impl ServeProcess {
    fn start(file: &str) -> Self {
        Self::start_with(file, &[])
    }

    pub(crate) fn start_with(file: &str, extra: &[&str]) -> Self {
        Self::spawn(&mut Self::command(file, extra))
    }

    /// The command that [`spawn`](Self::spawn) runs, to add to (environment variables).
    pub(crate) fn command(file: &str, extra: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_polyarch"));
        command
            .args(["serve", file, "--listen", "127.0.0.1:0"])
            .args(extra);
        command
    }

    /// Runs `command` and reads the URL it prints: `ws://` or `wss://`, then the address.
    pub(crate) fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start polyarch serve");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .expect("read the address");
        let url = first.trim().to_owned();
        assert!(
            url.starts_with("ws://127.0.0.1:") || url.starts_with("wss://127.0.0.1:"),
            "first line: {first:?}"
        );
        Self { child, url }
    }

    /// SIGTERM, then waits: the replica is closed cleanly (status 0).
    pub(crate) fn stop(mut self) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut err = String::new();
        let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
        assert!(status.success(), "serve exited with {status}: {err}");
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn two_devices_converge_peer_to_peer_without_a_relay() {
    let dir = tempfile::tempdir().unwrap();
    let laptop = Device::init(dir.path(), "laptop");
    let phone = Device::init(dir.path(), "phone");
    laptop.edit(&["set", "cal", "title", "Lunch"]);
    laptop.edit(&["add", "cal", "guests", "ada"]);
    phone.edit(&["set", "cal", "title", "Dinner"]);
    phone.edit(&["incr", "cal", "rsvp", "2"]);

    let server = ServeProcess::start(laptop.path());
    let first = phone.sync(&server.url, "");
    assert!(first.full_resync(), "{first:?}");
    assert_eq!(first.number("changes_in"), 2, "{first:?}");
    assert_eq!(first.number("changes_out"), 2, "{first:?}");
    phone.edit(&["append", "cal", "notes", "after the first sync"]);
    let second = phone.sync(&server.url, "");
    assert!(!second.full_resync(), "{second:?}");
    assert_eq!(second.number("changes_out"), 1, "{second:?}");
    server.stop();

    assert_converged(&[&laptop, &phone], &["cal"]);
    let titles = laptop.get("cal", "title");
    assert_eq!(titles.len(), 2, "both concurrent values: {titles:?}");
    assert_eq!(phone.get("cal", "title"), titles);
    assert_eq!(laptop.get("cal", "notes"), ["\"after the first sync\""]);
}

/// A TCP proxy for one connection that forwards at most `budget` bytes (both directions
/// together, cutting through the middle of a read if need be), then cuts both sides.
struct CutProxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl CutProxy {
    fn start(upstream: SocketAddr, budget: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let flag = cut.clone();
        let thread = std::thread::spawn(move || {
            listener.set_nonblocking(true).unwrap();
            let deadline = Instant::now() + Duration::from_secs(120);
            let client = loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(_) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => return,
                }
            };
            client.set_nonblocking(false).unwrap();
            let server = TcpStream::connect(upstream).unwrap();
            let budget = Arc::new(Mutex::new(budget));
            let pump = |mut from: TcpStream, mut to: TcpStream| {
                let (budget, flag) = (budget.clone(), flag.clone());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let allowed = {
                            let mut left = budget.lock().unwrap();
                            let allowed = n.min(*left);
                            *left -= allowed;
                            allowed
                        };
                        if to.write_all(&buf[..allowed]).is_err() {
                            break;
                        }
                        if allowed < n {
                            flag.store(true, Ordering::SeqCst);
                            break;
                        }
                    }
                    let _ = from.shutdown(Shutdown::Both);
                    let _ = to.shutdown(Shutdown::Both);
                })
            };
            let up = pump(client.try_clone().unwrap(), server.try_clone().unwrap());
            let down = pump(server, client);
            let _ = up.join();
            let _ = down.join();
        });
        Self { addr, cut, thread }
    }

    /// Waits for the connection to end; returns whether it was cut.
    fn finish(self) -> bool {
        self.thread.join().unwrap();
        self.cut.load(Ordering::SeqCst)
    }
}

#[test]
fn a_device_cut_off_mid_exchange_converges_after_it_comes_back() {
    let seed: u64 = std::env::var("POLYARCH_CUT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_c0de);
    eprintln!("cut points seeded with POLYARCH_CUT_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(dir.path());
    let url = relay.url();
    let tok = token("", Rights::ReadWrite, 3600);
    let roamer = Device::init(dir.path(), "roamer");
    let desk = Device::init(dir.path(), "desk");

    // Fixed cut points first: in the HTTP upgrade, in the hellos; then random ones, which fall
    // mostly inside change frames (a few KB each way).
    let mut cuts = vec![1, 120, 300];
    cuts.extend((0..7).map(|_| rng.random_range(1..6000)));
    let mut text = String::new();
    let mut was_cut = 0;
    for (round, &budget) in cuts.iter().enumerate() {
        // Both sides have something new, so changes cross in both directions.
        let chunk: String = (0..rng.random_range(1500..4000))
            .map(|_| rng.random_range(b'a'..=b'z') as char)
            .collect();
        roamer.edit(&["append", "trip", "log", &chunk]);
        roamer.edit(&["add", "trip", "stops", &format!("stop{round}")]);
        text.push_str(&chunk);
        desk.edit(&["incr", "trip", "budget", "10"]);
        desk.edit(&[
            "set",
            "trip",
            &format!("plan/day{round}"),
            &"x".repeat(1000),
        ]);
        desk.sync(&url, &tok);

        let proxy = CutProxy::start(relay.addr, budget);
        let through = format!("ws://{}/sync", proxy.addr);
        let out = roamer.sync_output(&through, &tok);
        let cut = proxy.finish();
        was_cut += usize::from(cut);
        // Cut or not, the command ends cleanly: in sync, or one line saying it did not finish.
        match out.status.code() {
            Some(0) => {}
            Some(1) => {
                assert!(cut, "round {round}: failed without a cut: {out:?}");
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(err.contains("did not finish"), "round {round}: {err}");
            }
            _ => panic!("round {round} (cut after {budget} bytes): {out:?}"),
        }
        // Back on the network: everything converges and nothing is lost.
        roamer.sync(&url, &tok);
        desk.sync(&url, &tok);
        assert_converged(&[&roamer, &desk], &["trip"]);
        let trip = desk.dump("trip");
        assert_eq!(trip["log"], text.as_str(), "round {round}");
        assert_eq!(trip["budget"], 10 * (round as u64 + 1), "round {round}");
        assert_eq!(trip["stops"].as_object().unwrap().len(), round + 1);
        assert_eq!(trip["plan"].as_object().unwrap().len(), round + 1);
    }
    assert!(
        was_cut * 2 >= cuts.len(),
        "most rounds must really be cut ({was_cut} of {})",
        cuts.len()
    );
    drop(relay);
}

#[test]
fn a_device_serves_peers_while_it_syncs_with_the_relay() {
    let dir = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(dir.path());
    let url = relay.url();
    let tok = token("", Rights::ReadWrite, 3600);
    let laptop = Device::init(dir.path(), "laptop");
    let phone = Device::init(dir.path(), "phone");
    let desk = Device::init(dir.path(), "desk");
    laptop.edit(&["incr", "cal", "n", "1"]);
    phone.edit(&["incr", "cal", "n", "2"]);
    desk.edit(&["incr", "cal", "n", "4"]);

    // The laptop listens for peers on the LAN and follows the relay at the same time.
    let server = ServeProcess::start_with(laptop.path(), &["--relay", &url, "--token", &tok]);
    phone.sync(&server.url, "");
    // The phone's change travels on to the relay through the laptop, the desk's back to the
    // phone; nothing is counted twice.
    let deadline = Instant::now() + Duration::from_secs(120);
    while desk.dump("cal")["n"] != 7 || phone.dump("cal")["n"] != 7 {
        assert!(
            Instant::now() < deadline,
            "desk {} phone {}",
            desk.dump("cal"),
            phone.dump("cal")
        );
        std::thread::sleep(Duration::from_millis(200));
        desk.sync(&url, &tok);
        phone.sync(&server.url, "");
    }
    server.stop();
    assert_converged(&[&laptop, &phone, &desk], &["cal"]);
    drop(relay);
}
