//! Relay load benchmark: many simulated devices over real WebSockets against the real
//! `polyarch-relay` binary (SQLite backend, its own process), driven from this one process; then
//! the same scenario against automerge-repo's sync server (Node), driven by automerge-repo
//! clients (`benches/automerge-repo/`).
//!
//! Each document has 4 devices typing 6 changes per second each; every device receives the
//! other three's changes. For each document count (grown until p99 breaks the bound), the
//! benchmark reports delivery latency (send to receipt at each other device: p50, p99), the
//! server's CPU and resident memory (from `/proc`), and the load generator's own CPU (it shares
//! the 2 cores with the server). A change that never arrives counts as late beyond any bound.
//! A last phase holds many idle connections and reports memory per connection.
//!
//! The simulated device is light on purpose (no replica): it sends pre-made automerge changes
//! (one character spliced into a text and a counter set, as a typist's change) as protocol
//! frames and decodes what it receives. It keeps a log and sends what the real client's session
//! sends (see `DeviceLog`): its changes in stretches of its log, the stretches that hold only
//! what the relay sent it, and acknowledgements, which wait up to `ClientConfig::ack_delay` to
//! travel with a change of its own (`POLYARCH_BENCH_ACK_DELAY_MS` overrides the delay). What the relay sees is real protocol traffic with real changes,
//! which it validates, stores and fans out as usual.
//!
//! Run: `cargo bench --features relay --bench relay_load`. See `benches/README.md` for the
//! environment knobs. Writes `target/polyarch-bench/relay_load.json` (documents sustained,
//! Polyarch vs automerge-repo), `relay_load_p99.json` (p99 at 1,000 documents) and
//! `relay_idle_memory.json` (KiB per idle connection).

#[allow(dead_code)] // shared by every bench binary; each uses part of it
mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT};
use futures_util::{SinkExt, StreamExt};
use polyarch::relay::{Claims, Rights};
use polyarch::sync::{
    Hello, Interest, Limits, Message, PROTOCOL_VERSION, Stretch, WireChange, wire,
};
use polyarch::{DeviceId, DocId, Epoch};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use support::report::{Report, Target};

const SECRET: &str = "bench-secret-0123456789";
const DEVICES_PER_DOC: usize = 4;
const RATE_HZ: f64 = 6.0;
const P99_BOUND_MS: f64 = 100.0;
/// Time after the window for the last deliveries to arrive.
const DRAIN: Duration = Duration::from_secs(1);
/// A size counts only if the generator sent at least this share of the nominal changes.
const MIN_SENT_FRACTION: f64 = 0.95;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What to run, from `POLYARCH_BENCH_*` (see benches/README.md).
struct Settings {
    sizes: Vec<usize>,
    secs: u64,
    ramp: u64,
    idle: usize,
    sync: String,
    baseline_sizes: Vec<usize>,
    /// automerge-repo sync throttles to try (`None`: its default, 100 ms).
    throttles: Vec<Option<u32>>,
}

fn env_str(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.trim().is_empty())
}

/// A comma-separated list of numbers; `none` (or `0`) for an empty list.
fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    env_str(name)
        .map(|s| {
            s.split(',')
                .filter_map(|x| x.trim().parse().ok())
                .filter(|&n| n > 0)
                .collect()
        })
        .unwrap_or_else(|| default.to_vec())
}

fn env_num(name: &str, default: u64) -> u64 {
    env_str(name)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

fn settings() -> Settings {
    let quick = support::quick();
    let throttles = env_str("POLYARCH_BENCH_AMRG_THROTTLE")
        .unwrap_or_else(|| if quick { "default" } else { "default,0" }.into())
        .split(',')
        .filter_map(|t| match t.trim() {
            "default" => Some(None),
            n => n.parse().ok().map(Some),
        })
        .collect();
    Settings {
        sizes: env_list(
            "POLYARCH_BENCH_DOCS",
            if quick {
                &[10, 100]
            } else {
                &[10, 100, 250, 500, 1000, 1500, 2000]
            },
        ),
        secs: env_num("POLYARCH_BENCH_SECS", if quick { 3 } else { 10 }),
        ramp: env_num("POLYARCH_BENCH_RAMP", if quick { 1 } else { 3 }),
        idle: env_num("POLYARCH_BENCH_IDLE", if quick { 1_000 } else { 10_000 }) as usize,
        sync: env_str("POLYARCH_BENCH_SYNC").unwrap_or_else(|| "normal".into()),
        baseline_sizes: env_list(
            "POLYARCH_BENCH_BASELINE_DOCS",
            if quick {
                &[1, 5]
            } else {
                &[1, 2, 5, 10, 25, 50, 100, 250, 500, 1000]
            },
        ),
        throttles,
    }
}

/// Raises this process's open-file limit to its hard limit (children inherit it): 10,000
/// connections need 10,000 descriptors on each side. Returns (soft, hard) after the change.
fn raise_nofile() -> (u64, u64) {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed by pointer.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return (0, 0);
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
        (lim.rlim_cur, lim.rlim_max)
    }
}

/// A server process (relay or Node), killed on drop, with its scratch directory.
struct Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening: {status}");
        }
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start_relay(sync: &str) -> Server {
    let dir = support::scratch_dir();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_polyarch-relay"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--db")
        .arg(format!("sqlite:{}", dir.path().join("relay.db").display()))
        .args(["--sync", sync, "--idle-timeout", "600s"])
        .env("POLYARCH_RELAY_SECRET", SECRET)
        .env("POLYARCH_RELAY_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start polyarch-relay");
    wait_for_port(port, &mut child, "polyarch-relay");
    Server { child, port, dir }
}

/// CPU seconds (user + system, all threads) and resident memory (KiB) of a process.
fn proc_usage(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    (cpu, rss)
}

fn self_cpu() -> f64 {
    support::timing::process_cpu().map_or(f64::NAN, |d| d.as_secs_f64())
}

fn loadavg() -> Option<f64> {
    support::timing::machine_load().0
}

/// The machine's busy and total CPU time so far (ticks of all CPUs, from `/proc/stat`).
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = ticks.iter().take(8).sum();
    // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    (total.saturating_sub(idle), total)
}

/// Pre-made changes per device slot, as a typist makes them: one character spliced into a
/// text and the device's counter set. Devices in different documents reuse the same bytes
/// (the relay keys changes by document), so making them costs nothing during the run.
fn make_changes(per_slot: usize) -> Vec<Vec<WireChange>> {
    (0..DEVICES_PER_DOC)
        .map(|slot| {
            let actor = ActorId::from(&[slot as u8 + 1; 16][..]);
            let mut d = AutoCommit::new().with_actor(actor);
            let text = d
                .put_object(ROOT, format!("text{slot}"), ObjType::Text)
                .unwrap();
            d.put(ROOT, format!("c{slot}"), 0u64).unwrap();
            d.commit();
            let mut out = vec![d.get_last_local_change().unwrap().clone()];
            for i in 1..per_slot {
                d.splice_text(&text, (i * 7919) % i, 0, "x").unwrap();
                d.put(ROOT, format!("c{slot}"), i as u64).unwrap();
                d.commit();
                out.push(d.get_last_local_change().unwrap().clone());
            }
            out.into_iter()
                .map(|c| WireChange {
                    doc: DocId::new("placeholder").unwrap(),
                    actor: c.actor_id().clone(),
                    seq: c.seq(),
                    offset: c.seq(),
                    bytes: c.raw_bytes().to_vec(),
                })
                .collect()
        })
        .collect()
}

fn token() -> String {
    polyarch::relay::token::mint(
        SECRET.as_bytes(),
        &Claims {
            prefix: String::new(),
            rights: Rights::ReadWrite,
            expires_at: polyarch::relay::token::unix_now() + 3600,
            device: None,
        },
    )
    .unwrap()
}

/// Per document: when each (slot, seq) was sent, in µs since the run started (0 = not yet).
struct Sent(Vec<AtomicU64>, usize);

impl Sent {
    fn new(per_slot: usize) -> Self {
        Sent(
            (0..DEVICES_PER_DOC * per_slot)
                .map(|_| AtomicU64::new(0))
                .collect(),
            per_slot,
        )
    }

    fn slot(&self, slot: usize, seq: u64) -> Option<&AtomicU64> {
        let i = (seq as usize).checked_sub(1)?;
        (i < self.1).then(|| self.0.get(slot * self.1 + i))?
    }
}

/// The clock of one run, in µs since `start`.
#[derive(Clone, Copy)]
struct Clock {
    start: Instant,
    measure_from: u64,
    stop: u64,
}

impl Clock {
    fn now(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    fn in_window(&self, t: u64) -> bool {
        t >= self.measure_from && t < self.stop
    }
}

/// What the devices of one run record.
#[derive(Default)]
struct Tally {
    /// Delivery latencies (µs) of changes sent in the window.
    latencies: Mutex<Vec<u32>>,
    /// Deliveries expected: changes sent in the window times 3.
    expected: AtomicU64,
    sent_in_window: AtomicU64,
    /// How late sends were against their schedule (µs), in the window.
    lags: Mutex<Vec<u32>>,
    /// Frames the devices sent in the window: all of them, and the acknowledgements among them.
    frames_out: AtomicU64,
    acks_out: AtomicU64,
    /// Writes (system calls) the devices made in the window.
    writes_out: AtomicU64,
    /// Frames the devices received in the window.
    frames_in: AtomicU64,
}

/// A simulated device's log and what its session owes the relay, as a real client's
/// [`Session`](polyarch::sync::Session) keeps them: every change it stores, its own or
/// received, takes the next offset of its log; it streams its log to the relay in stretches,
/// leaving out what came from the relay; and it acknowledges the relay's log. Under an
/// acknowledgement delay (`ClientConfig::ack_delay`) the acknowledgement and a stretch holding
/// nothing for the relay wait up to the delay for a change of the device's own to travel with.
struct DeviceLog {
    head: u64,
    /// How far the stretches sent reach.
    through: u64,
    /// The relay's log offset to acknowledge.
    ack: Option<u64>,
    /// When what waits must go.
    due: Option<tokio::time::Instant>,
    delay: Duration,
}

impl DeviceLog {
    /// The relay's frame brought `n` changes completing its log through `to`; returns the
    /// frames to send now.
    fn received(&mut self, n: u64, to: u64) -> Vec<Message> {
        if n == 0 {
            return Vec::new(); // Nothing stored: no acknowledgement, and our log did not grow.
        }
        self.head += n;
        self.ack = Some(to);
        if self.delay.is_zero() {
            return self.settle();
        }
        self.due
            .get_or_insert_with(|| tokio::time::Instant::now() + self.delay);
        Vec::new()
    }

    /// The device's own change `c`: its frame, and whatever waits, to send together.
    fn own(&mut self, mut c: WireChange) -> Vec<Message> {
        self.head += 1;
        c.offset = self.head;
        let mut out = vec![Message::Changes {
            changes: vec![c],
            stretch: Some(Stretch {
                from: self.through,
                to: self.head,
            }),
        }];
        self.through = self.head;
        out.extend(self.settle());
        out
    }

    /// What waits (a stretch holding nothing for the relay, an acknowledgement), sent now.
    fn settle(&mut self) -> Vec<Message> {
        self.due = None;
        let mut out = Vec::new();
        if self.head > self.through {
            out.push(Message::Changes {
                changes: Vec::new(),
                stretch: Some(Stretch {
                    from: self.through,
                    to: self.head,
                }),
            });
            self.through = self.head;
        }
        if let Some(upto) = self.ack.take() {
            out.push(Message::Ack { upto });
        }
        out
    }
}

/// Sends `msgs` in one write; false if the connection is gone.
async fn send_together(
    tx: &mut futures_util::stream::SplitSink<Socket, Ws>,
    msgs: Vec<Message>,
    clock: &Clock,
    tally: &Tally,
) -> bool {
    let n = msgs.len();
    if n == 0 {
        return true;
    }
    if clock.in_window(clock.now()) {
        let acks = msgs
            .iter()
            .filter(|m| matches!(m, Message::Ack { .. }))
            .count();
        tally.frames_out.fetch_add(n as u64, Ordering::Relaxed);
        tally.acks_out.fetch_add(acks as u64, Ordering::Relaxed);
        tally.writes_out.fetch_add(1, Ordering::Relaxed);
    }
    for (i, m) in msgs.into_iter().enumerate() {
        let frame = Ws::binary(wire::encode(&m));
        let sent = if i + 1 == n {
            tx.send(frame).await
        } else {
            tx.feed(frame).await
        };
        if sent.is_err() {
            return false;
        }
    }
    true
}

/// How long a simulated device's acknowledgement waits (`POLYARCH_BENCH_ACK_DELAY_MS`; the
/// client's default otherwise).
fn ack_delay() -> Duration {
    env_str("POLYARCH_BENCH_ACK_DELAY_MS")
        .and_then(|s| s.trim().parse().ok())
        .map_or(polyarch::net::DEFAULT_ACK_DELAY, Duration::from_millis)
}

/// Connects one device following `doc` and opens the exchange (hello, empty summary).
async fn connect(port: u16, doc: &DocId) -> Option<Socket> {
    let url = format!("ws://127.0.0.1:{port}/sync");
    let mut tries = 0;
    let mut ws = loop {
        // As the native client connects: Nagle off (frames are small and latency matters),
        // and reads of `READ_BUFFER_BYTES` (tungstenite zeroes its read buffer before each read).
        let config = WebSocketConfig::default().read_buffer_size(polyarch::net::READ_BUFFER_BYTES);
        match tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true).await {
            Ok((ws, _)) => break ws,
            Err(_) if tries < 20 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(_) => return None,
        }
    };
    let hello = Message::Hello(Hello {
        versions: (PROTOCOL_VERSION, PROTOCOL_VERSION),
        device: DeviceId::random(),
        epoch: Epoch::random(),
        head: 0,
        label: "bench".into(),
        resume: None,
        interest: Interest::Docs(vec![doc.clone()]),
        token: token(),
    });
    ws.send(Ws::binary(wire::encode(&hello))).await.ok()?;
    ws.send(Ws::binary(wire::encode(&Message::Summary {
        docs: Vec::new(),
        last: true,
    })))
    .await
    .ok()?;
    Some(ws)
}

/// Connects `n` devices, a bounded number at a time (the listen backlog is finite).
async fn connect_all(port: u16, docs: &[DocId], per_doc: usize) -> Vec<Option<Socket>> {
    let mut out = Vec::with_capacity(docs.len() * per_doc);
    let all: Vec<&DocId> = docs
        .iter()
        .flat_map(|d| std::iter::repeat_n(d, per_doc))
        .collect();
    for chunk in all.chunks(200) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|d| {
                let d = (*d).clone();
                tokio::spawn(async move { connect(port, &d).await })
            })
            .collect();
        for t in tasks {
            out.push(t.await.ok().flatten());
        }
    }
    out
}

/// One simulated device: types its slot's changes at `RATE_HZ` until the window ends, and
/// records the delivery latency of every change it receives from the others.
#[allow(clippy::too_many_arguments)]
async fn device(
    ws: Socket,
    doc: DocId,
    slot: usize,
    changes: Arc<Vec<Vec<WireChange>>>,
    sent: Arc<Sent>,
    clock: Clock,
    phase: Duration,
    tally: Arc<Tally>,
    delay: Duration,
) {
    let (mut tx, mut rx) = ws.split();
    // What each frame from the relay brought: how many changes, and the stretch's end.
    let (ack_tx, mut ack_rx) = tokio::sync::mpsc::unbounded_channel::<(u64, u64)>();
    let reader = {
        let sent = sent.clone();
        let tally = tally.clone();
        tokio::spawn(async move {
            let limits = Limits::default();
            let mut mine = Vec::new();
            // Read until the drain after the window ends (not until the close completes: a
            // busy server may take a while to close a thousand connections).
            let end = tokio::time::Instant::from_std(clock.start)
                + Duration::from_micros(clock.stop)
                + DRAIN;
            while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(end, rx.next()).await {
                let Ws::Binary(b) = msg else { continue };
                let Ok(Message::Changes { changes, stretch }) = wire::decode(&b, &limits) else {
                    continue;
                };
                let now = clock.now();
                if clock.in_window(now) {
                    tally.frames_in.fetch_add(1, Ordering::Relaxed);
                }
                let n = changes.len() as u64;
                for c in changes {
                    let from = c.actor.to_bytes().first().map_or(0, |b| *b as usize - 1);
                    if let Some(at) = sent.slot(from, c.seq) {
                        let t = at.load(Ordering::Relaxed);
                        if t > 0 && clock.in_window(t) {
                            mine.push(now.saturating_sub(t).min(u32::MAX as u64) as u32);
                        }
                    }
                }
                if let Some(s) = stretch {
                    let _ = ack_tx.send((n, s.to));
                }
            }
            tally.latencies.lock().unwrap().extend(mine);
        })
    };
    let period = Duration::from_secs_f64(1.0 / RATE_HZ);
    let start = tokio::time::Instant::from_std(clock.start);
    let mut next = start + phase;
    let mut seq = 0usize;
    let mut lags = Vec::new();
    let mut log = DeviceLog {
        head: 0,
        through: 0,
        ack: None,
        due: None,
        delay,
    };
    loop {
        let due = log.due;
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {
                let now = clock.now();
                if now >= clock.stop || seq >= changes[slot].len() {
                    break;
                }
                let mut c = changes[slot][seq].clone();
                c.doc = doc.clone();
                if let Some(at) = sent.slot(slot, seq as u64 + 1) {
                    at.store(now.max(1), Ordering::Relaxed);
                }
                if clock.in_window(now) {
                    tally.sent_in_window.fetch_add(1, Ordering::Relaxed);
                    tally.expected.fetch_add((DEVICES_PER_DOC - 1) as u64, Ordering::Relaxed);
                    let scheduled = next.duration_since(start).as_micros() as u64;
                    lags.push(now.saturating_sub(scheduled).min(u32::MAX as u64) as u32);
                }
                if !send_together(&mut tx, log.own(c), &clock, &tally).await {
                    break;
                }
                seq += 1;
                next += period;
            }
            Some((n, to)) = ack_rx.recv() => {
                let _ = send_together(&mut tx, log.received(n, to), &clock, &tally).await;
            }
            _ = tokio::time::sleep_until(due.unwrap_or(next)), if due.is_some() => {
                let _ = send_together(&mut tx, log.settle(), &clock, &tally).await;
            }
        }
    }
    tally.lags.lock().unwrap().extend(lags);
    // Let the last deliveries arrive (acknowledging them), then close.
    let drain_until =
        tokio::time::Instant::from_std(clock.start) + Duration::from_micros(clock.stop) + DRAIN;
    loop {
        let due = log.due;
        tokio::select! {
            _ = tokio::time::sleep_until(drain_until) => break,
            Some((n, to)) = ack_rx.recv() => {
                let _ = send_together(&mut tx, log.received(n, to), &clock, &tally).await;
            }
            _ = tokio::time::sleep_until(due.unwrap_or(drain_until)), if due.is_some() => {
                let _ = send_together(&mut tx, log.settle(), &clock, &tally).await;
            }
        }
    }
    let _ = reader.await;
    let _ = tokio::time::timeout(Duration::from_secs(2), tx.send(Ws::Close(None))).await;
}

/// The `p`-quantile in ms of `expected` deliveries of which `sorted` (µs) arrived: the ones
/// that never arrived count as infinitely late (`None` when the quantile falls on them).
fn percentile(sorted: &[u32], expected: usize, p: f64) -> Option<f64> {
    if expected == 0 {
        return None;
    }
    let i = ((expected - 1) as f64 * p).round() as usize;
    sorted.get(i).map(|&us| us as f64 / 1000.0)
}

fn percentile_plain(sorted: &[u32], p: f64) -> Option<f64> {
    percentile(sorted, sorted.len(), p)
}

/// Whether a size's row meets the bound (and the generator kept up, so it means something).
fn row_ok(row: &Value) -> bool {
    row["p99_ms"].as_f64().is_some_and(|p| p < P99_BOUND_MS)
        && row["sent_fraction_of_nominal"]
            .as_f64()
            .is_some_and(|f| f >= MIN_SENT_FRACTION)
}

/// Encodes and decodes a frame of three typing changes this many times per calibration round.
const CALIBRATION_FRAMES: usize = 20_000;

/// How fast this machine is right now: the best of 3 rounds of a fixed single-threaded piece of
/// the relay's own work (encoding a frame of 3 typing changes, compressed, and decoding it),
/// in ms. Measured just before each size, while nothing of the bench runs. On a shared host the
/// same code runs slower at some times than at others: a row whose calibration took longer
/// than another's ran on a slower machine, and its CPU figures and latencies with it.
fn calibrate(changes: &[Vec<WireChange>]) -> f64 {
    let doc = DocId::new("bench/calibration").expect("a document id");
    let batch: Vec<WireChange> = changes
        .iter()
        .take(3)
        .filter_map(|slot| slot.first().cloned())
        .map(|mut c| {
            c.doc = doc.clone();
            c
        })
        .collect();
    let message = Message::Changes {
        stretch: Some(Stretch {
            from: 0,
            to: batch.len() as u64,
        }),
        changes: batch,
    };
    let limits = Limits::default();
    (0..3)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..CALIBRATION_FRAMES {
                let frame = wire::encode(std::hint::black_box(&message));
                std::hint::black_box(wire::decode(&frame, &limits).is_ok());
            }
            started.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

/// Runs one document count against a fresh relay; returns the JSON row.
fn run_size(rt: &tokio::runtime::Runtime, docs: usize, s: &Settings) -> Value {
    let per_slot = ((s.secs + s.ramp + 2) as f64 * RATE_HZ) as usize + 10;
    let changes = Arc::new(make_changes(per_slot));
    let calibration_ms = calibrate(&changes);
    let relay = start_relay(&s.sync);
    let pid = relay.child.id();
    let doc_ids: Vec<DocId> = (0..docs)
        .map(|d| DocId::new(format!("bench/{d}")).unwrap())
        .collect();
    let tally = Arc::new(Tally::default());
    let delay = ack_delay();
    let connect_started = Instant::now();
    let sockets = rt.block_on(connect_all(relay.port, &doc_ids, DEVICES_PER_DOC));
    let connect_secs = connect_started.elapsed().as_secs_f64();
    let connected = sockets.iter().filter(|s| s.is_some()).count();
    let start = Instant::now();
    let clock = Clock {
        start,
        measure_from: s.ramp * 1_000_000,
        stop: (s.ramp + s.secs) * 1_000_000,
    };
    let mut usage = [(0.0, 0u64, 0.0, None); 2];
    let mut machine = [(0u64, 0u64); 2];
    let wal = relay.dir.path().join("relay.db-wal");
    let mut disk = (0u64, 0u64);
    rt.block_on(async {
        let mut tasks = Vec::new();
        let mut sockets = sockets.into_iter();
        for (d, doc) in doc_ids.iter().enumerate() {
            let sent = Arc::new(Sent::new(per_slot));
            for slot in 0..DEVICES_PER_DOC {
                let Some(Some(ws)) = sockets.next() else {
                    continue;
                };
                let phase = Duration::from_secs_f64(
                    ((d * DEVICES_PER_DOC + slot) % 97) as f64 / 97.0 / RATE_HZ,
                );
                tasks.push(tokio::spawn(device(
                    ws,
                    doc.clone(),
                    slot,
                    changes.clone(),
                    sent.clone(),
                    clock,
                    phase,
                    tally.clone(),
                    delay,
                )));
            }
        }
        // Sample the relay and ourselves at the window's edges.
        for (i, at) in [clock.measure_from, clock.stop].into_iter().enumerate() {
            tokio::time::sleep_until(
                tokio::time::Instant::from_std(start) + Duration::from_micros(at),
            )
            .await;
            let (cpu, rss) = proc_usage(pid);
            usage[i] = (cpu, rss, self_cpu(), loadavg());
            machine[i] = machine_ticks();
        }
        disk = (
            support::dir_size(relay.dir.path()),
            std::fs::metadata(&wal).map_or(0, |m| m.len()),
        );
        for t in tasks {
            let _ = t.await;
        }
    });
    let measured = s.secs as f64;
    let mut l = std::mem::take(&mut *tally.latencies.lock().unwrap());
    l.sort_unstable();
    let mut lags = std::mem::take(&mut *tally.lags.lock().unwrap());
    lags.sort_unstable();
    let expected = tally.expected.load(Ordering::Relaxed) as usize;
    let nominal = docs as f64 * DEVICES_PER_DOC as f64 * RATE_HZ * measured;
    let p99 = percentile(&l, expected, 0.99);
    let row = json!({
        "documents": docs,
        "devices": docs * DEVICES_PER_DOC,
        "connected": connected,
        "connect_secs": connect_secs,
        "calibration_ms": calibration_ms,
        "p50_ms": percentile(&l, expected, 0.50),
        "p99_ms": p99,
        "max_ms": l.last().map(|&us| us as f64 / 1000.0),
        "p99_undelivered": p99.is_none() && expected > 0,
        "deliveries": l.len(),
        "expected_deliveries": expected,
        "delivered_fraction": if expected > 0 { l.len() as f64 / expected as f64 } else { 0.0 },
        "sent_fraction_of_nominal": tally.sent_in_window.load(Ordering::Relaxed) as f64 / nominal,
        "send_lag_p99_ms": percentile_plain(&lags, 0.99),
        "server_cpu_percent": (usage[1].0 - usage[0].0) / measured * 100.0,
        "server_rss_mib": usage[1].1 as f64 / 1024.0,
        // The relay's files when the window ends, and of them the write-ahead log.
        "server_disk_mib": disk.0 as f64 / (1 << 20) as f64,
        "server_wal_mib": disk.1 as f64 / (1 << 20) as f64,
        "generator_cpu_percent": (usage[1].2 - usage[0].2) / measured * 100.0,
        // Busy share of all CPUs over the window (100 = every core busy): with the server's
        // and the generator's CPU, it shows what else ran on the machine meanwhile.
        "machine_busy_percent": (machine[1].0 - machine[0].0) as f64
            / (machine[1].1 - machine[0].1).max(1) as f64 * 100.0,
        "device_ack_delay_ms": delay.as_millis() as u64,
        "device_frames_out_per_s": tally.frames_out.load(Ordering::Relaxed) as f64 / measured,
        "device_acks_out_per_s": tally.acks_out.load(Ordering::Relaxed) as f64 / measured,
        "device_writes_out_per_s": tally.writes_out.load(Ordering::Relaxed) as f64 / measured,
        "device_frames_in_per_s": tally.frames_in.load(Ordering::Relaxed) as f64 / measured,
        "loadavg_1m": [usage[0].3, usage[1].3],
    });
    println!("relay_load polyarch: {row}");
    row
}

/// Holds `n` idle devices (each following its own document) on one relay; returns the relay's
/// memory per connection.
fn run_idle(rt: &tokio::runtime::Runtime, n: usize, sync: &str) -> Value {
    let relay = start_relay(sync);
    let pid = relay.child.id();
    std::thread::sleep(Duration::from_millis(300));
    let (_, before) = proc_usage(pid);
    let docs: Vec<DocId> = (0..n)
        .map(|i| DocId::new(format!("idle/{i}")).unwrap())
        .collect();
    let started = Instant::now();
    let (count, after) = rt.block_on(async {
        let socks = connect_all(relay.port, &docs, 1).await;
        let mut held: Vec<Socket> = socks.into_iter().flatten().collect();
        // Read what the relay answers to each hello, so no reply sits in a socket buffer.
        let settle = tokio::time::Instant::now() + Duration::from_secs(2);
        // The answer to a hello is a summary and an empty stretch: two frames.
        'all: for ws in &mut held {
            for _ in 0..2 {
                if !matches!(
                    tokio::time::timeout_at(settle, ws.next()).await,
                    Ok(Some(Ok(_)))
                ) {
                    if tokio::time::Instant::now() >= settle {
                        break 'all;
                    }
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (_, after) = proc_usage(pid);
        let count = held.len();
        for mut ws in held {
            let _ = ws.close(None).await;
        }
        (count, after)
    });
    let per_conn = after.saturating_sub(before) as f64 / count.max(1) as f64;
    let row = json!({
        "connections": count,
        "asked": n,
        "connect_secs": started.elapsed().as_secs_f64(),
        "relay_rss_before_mib": before as f64 / 1024.0,
        "relay_rss_mib": after as f64 / 1024.0,
        "kib_per_connection": per_conn,
        "loadavg_1m": loadavg(),
    });
    println!("relay_load idle: {row}");
    row
}

fn baseline_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/automerge-repo")
}

/// Makes sure the Node side is installed (`npm ci`); the reason it cannot run otherwise.
fn baseline_ready() -> Result<(), String> {
    let dir = baseline_dir();
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("node is not installed".into());
    }
    if !dir.join("node_modules/@automerge/automerge-repo").is_dir() {
        eprintln!(
            "relay_load: installing the baseline (npm ci in {})",
            dir.display()
        );
        let npm = |args: &[&str]| {
            Command::new("npm")
                .args(args)
                .current_dir(&dir)
                .status()
                .map_err(|e| format!("cannot run npm: {e}"))
        };
        let mut status = npm(&["ci", "--no-audit", "--no-fund"])?;
        if !status.success() {
            // npm 11.19 refuses `ci` with this lock file ("Missing: @cbor-extract/...", the
            // optional per-platform packages), even one it wrote itself; `install` takes the
            // same lock file and leaves it unchanged.
            eprintln!("relay_load: npm ci failed; trying npm install with the same lock file");
            status = npm(&["install", "--no-audit", "--no-fund"])?;
        }
        if !status.success() {
            return Err(format!("npm install failed in {}: {status}", dir.display()));
        }
    }
    Ok(())
}

fn node(throttle: Option<u32>) -> Command {
    let mut cmd = Command::new("node");
    cmd.arg("--import")
        .arg("./throttle-hook.mjs")
        .current_dir(baseline_dir())
        .env_remove("AMRG_SYNC_DEBOUNCE_MS");
    if let Some(ms) = throttle {
        cmd.env("AMRG_SYNC_DEBOUNCE_MS", ms.to_string());
    }
    cmd
}

/// One document count against automerge-repo's sync server, driven by `driver.mjs`.
fn run_baseline_size(docs: usize, throttle: Option<u32>, s: &Settings) -> Result<Value, String> {
    let dir = support::scratch_dir();
    let port = free_port();
    let mut child = node(throttle)
        .arg("server.mjs")
        .arg(port.to_string())
        .arg(dir.path().join("data"))
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start node: {e}"))?;
    wait_for_port(port, &mut child, "automerge-repo sync server");
    let server = Server { child, port, dir };
    let mut driver = node(throttle)
        .arg("driver.mjs")
        .arg(format!("ws://127.0.0.1:{}", server.port))
        .args([docs.to_string(), s.secs.to_string(), s.ramp.to_string()])
        .arg(server.child.id().to_string())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the driver: {e}"))?;
    let stdout = driver.stdout.take().expect("piped stdout");
    let limit = Duration::from_secs(s.secs + s.ramp + 60 + docs as u64 / 4);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let line = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("RESULT ").map(str::to_owned));
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(limit);
    let _ = driver.kill();
    let _ = driver.wait();
    drop(server);
    let line = match line {
        Ok(Some(l)) => l,
        Ok(None) => return Err("the driver printed no result (see its stderr)".into()),
        Err(_) => return Err(format!("the driver did not finish within {limit:?}")),
    };
    let mut row: Value = serde_json::from_str(&line).map_err(|e| e.to_string())?;
    row["sync_throttle_ms"] = json!(throttle.unwrap_or(100));
    row["throttle_is_default"] = json!(throttle.is_none());
    row["loadavg_1m"] = json!(loadavg());
    println!("relay_load automerge-repo: {row}");
    Ok(row)
}

/// Grows `sizes` until a row breaks the bound; returns the rows and the largest size that held.
fn grow(
    sizes: &[usize],
    mut run: impl FnMut(usize) -> Result<Value, String>,
) -> (Vec<Value>, usize, Option<String>) {
    let mut rows = Vec::new();
    let mut sustained = 0;
    for &docs in sizes {
        match run(docs) {
            Ok(row) => {
                let ok = row_ok(&row);
                rows.push(row);
                if !ok {
                    break; // Larger counts will not do better.
                }
                sustained = sustained.max(docs);
            }
            Err(e) => {
                eprintln!("relay_load: {docs} documents: {e}");
                return (rows, sustained, Some(format!("{docs} documents: {e}")));
            }
        }
    }
    (rows, sustained, None)
}

fn main() {
    let s = settings();
    let nofile = raise_nofile();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // Polyarch.
    let (ours_rows, ours, _) = grow(&s.sizes, |docs| Ok(run_size(&rt, docs, &s)));
    let at_1000 = ours_rows
        .iter()
        .find(|r| r["documents"] == json!(1000))
        .cloned();

    // automerge-repo, once per throttle setting; its figure is the best of them.
    let mut baseline_runs = Vec::new();
    let mut baseline: Option<usize> = None;
    let mut baseline_why: Option<String> = None;
    if s.baseline_sizes.is_empty() {
        baseline_why = Some("skipped (POLYARCH_BENCH_BASELINE_DOCS is empty)".into());
    } else {
        match baseline_ready() {
            Ok(()) => {
                for &throttle in &s.throttles {
                    let (rows, sustained, error) = grow(&s.baseline_sizes, |docs| {
                        run_baseline_size(docs, throttle, &s)
                    });
                    if error.is_none() || !rows.is_empty() {
                        baseline = Some(baseline.unwrap_or(0).max(sustained));
                    }
                    baseline_runs.push(json!({
                        "sync_throttle_ms": throttle.unwrap_or(100),
                        "throttle_is_default": throttle.is_none(),
                        "sustained": sustained,
                        "sizes": rows,
                        "error": error,
                    }));
                }
            }
            Err(e) => baseline_why = Some(e),
        }
    }

    let idle = (s.idle > 0).then(|| run_idle(&rt, s.idle, &s.sync));

    // Server CPU per document, at the largest size where (nearly) everything was delivered:
    // the capacity figure that the latency bound does not hide.
    let per_doc = |rows: &[Value]| -> Option<f64> {
        rows.iter()
            .filter(|r| r["delivered_fraction"].as_f64().is_some_and(|f| f >= 0.99))
            .filter_map(|r| Some(r["server_cpu_percent"].as_f64()? / r["documents"].as_f64()?))
            .next_back()
    };
    let ours_per_doc = per_doc(&ours_rows);
    let baseline_per_doc = baseline_runs
        .iter()
        .filter_map(|run| per_doc(run["sizes"].as_array()?))
        .reduce(f64::min);
    let unit = "documents (4 devices x 6 changes/s each, p99 delivery < 100 ms)";
    let mut report = match baseline {
        Some(b) => Report::new(
            "relay_load",
            unit,
            Some(ours as f64),
            b as f64,
            Target::RatioAtLeast(10.0),
        ),
        None => Report::without_baseline(
            "relay_load",
            unit,
            Some(ours as f64),
            Target::RatioAtLeast(10.0),
        ),
    };
    report = report
        .detail("polyarch", json!({ "sizes": ours_rows, "sustained": ours, "relay_sync": s.sync }))
        .detail("automerge_repo", json!({ "runs": baseline_runs, "sustained": baseline, "why_not_measured": baseline_why }))
        .detail(
            "server_cpu_percent_per_document",
            json!({ "polyarch": ours_per_doc, "automerge_repo": baseline_per_doc }),
        )
        .detail("measured_secs", s.secs)
        .detail("ramp_secs", s.ramp)
        .detail("nofile_limit", json!({ "soft": nofile.0, "hard": nofile.1 }))
        .note(format!(
            "polyarch relay (SQLite, synchronous={}) sustained {ours} documents; tried {:?}",
            s.sync, s.sizes
        ))
        .note(match baseline {
            Some(b) => format!(
                "automerge-repo sync server sustained {b} documents (best of sync throttles {:?} ms; default 100)",
                s.throttles.iter().map(|t| t.unwrap_or(100)).collect::<Vec<_>>()
            ),
            None => format!(
                "automerge-repo not measured: {}",
                baseline_why.as_deref().unwrap_or("unknown")
            ),
        })
        .note("server and load generator share the machine's 2 cores; see details for each one's CPU and the load average");
    if let (Some(o), Some(b)) = (ours_per_doc, baseline_per_doc) {
        report = report.note(format!(
            "server CPU per document (% of a core): polyarch {o:.2}, automerge-repo {b:.1} ({:.0}x)",
            b / o
        ));
    }
    if baseline == Some(0) {
        report = report.note(
            "the baseline sustained no size under the bound: ratio is null, pass means ours > 0",
        );
    }
    report.write();

    let p99 = at_1000.as_ref().and_then(|r| r["p99_ms"].as_f64());
    let mut r = Report::without_baseline(
        "relay_load_p99",
        "ms p99 delivery at 1,000 documents x 4 devices x 6 changes/s",
        p99,
        Target::AtMost(P99_BOUND_MS),
    );
    r = match &at_1000 {
        Some(row) => r.detail("row", row.clone()),
        None => r.note("1,000 documents not run (not in POLYARCH_BENCH_DOCS, or a smaller size already broke the bound)"),
    };
    if at_1000.is_some() && p99.is_none() {
        r = r.note("some changes sent at 1,000 documents were never delivered within the run");
    }
    r.write();

    if let Some(idle) = idle {
        Report::without_baseline(
            "relay_idle_memory",
            "KiB per idle connection",
            idle["kib_per_connection"].as_f64(),
            Target::Context,
        )
        .detail("idle", idle.clone())
        .note(format!(
            "{} idle devices connected to one relay, each following its own document",
            idle["connections"]
        ))
        .write();
    }
}
