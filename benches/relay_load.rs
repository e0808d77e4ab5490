//! Relay load benchmark: many simulated devices over real WebSockets against the real
//! `polyarch-relay` binary (SQLite backend), in one load-generator process.
//!
//! Each document has 4 devices typing 6 changes per second each; every device receives the
//! other three's changes. For each document count, the benchmark reports delivery latency
//! (send to receipt at each other device: p50, p99), the relay's CPU and memory, and then the
//! largest count whose p99 stayed under 100 ms. A last phase holds idle connections and
//! reports memory per connection.
//!
//! Run: `cargo bench --features relay --bench relay_load`. Environment:
//! `POLYARCH_BENCH_DOCS=50,100,250` (document counts), `POLYARCH_BENCH_SECS=8` (measured
//! seconds per count), `POLYARCH_BENCH_IDLE=10000` (idle connections; 0 skips the phase).
//! Writes `target/polyarch-bench/relay_load.json`.
//!
//! The baseline (automerge-repo's sync server in Node, driven the same way) is not measured
//! yet: `baseline` and `ratio` are null, never a made-up number.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
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
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as Ws;

const SECRET: &str = "bench-secret-0123456789";
const DEVICES_PER_DOC: usize = 4;
const RATE_HZ: f64 = 6.0;
const P99_BOUND_MS: f64 = 100.0;

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

/// The relay process, killed on drop.
struct Relay {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_relay() -> Relay {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let child = Command::new(env!("CARGO_BIN_EXE_polyarch-relay"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--db")
        .arg(format!("sqlite:{}", dir.path().join("relay.db").display()))
        .args(["--sync", "normal", "--idle-timeout", "600s"])
        .env("POLYARCH_RELAY_SECRET", SECRET)
        .env("POLYARCH_RELAY_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start polyarch-relay");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "relay did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Relay {
        child,
        port,
        _dir: dir,
    }
}

/// CPU seconds (user + system) and resident memory (KiB) of a process.
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

/// Pre-made changes per device slot: devices in different documents reuse the same bytes
/// (the relay keys changes by document), so generating them costs nothing during the run.
fn make_changes(slots: usize, per_slot: usize) -> Vec<Vec<WireChange>> {
    (0..slots)
        .map(|slot| {
            let actor = ActorId::from(&[slot as u8 + 1; 16][..]);
            let mut d = AutoCommit::new().with_actor(actor);
            let text = d
                .put_object(ROOT, format!("t{slot}"), ObjType::Text)
                .unwrap();
            d.commit();
            let mut out = vec![d.get_last_local_change().unwrap()];
            for i in 1..per_slot {
                d.splice_text(&text, i - 1, 0, "x").unwrap();
                d.commit();
                out.push(d.get_last_local_change().unwrap());
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
    fn slot(&self, slot: usize, seq: u64) -> Option<&AtomicU64> {
        self.0.get(slot * self.1 + (seq as usize).checked_sub(1)?)
    }
}

/// One simulated device: connects, types `changes` at `RATE_HZ` until `stop`, and records
/// the delivery latency of every change it receives from the others.
#[allow(clippy::too_many_arguments)]
async fn device(
    port: u16,
    doc: DocId,
    slot: usize,
    changes: Arc<Vec<Vec<WireChange>>>,
    sent: Arc<Vec<Sent>>,
    doc_index: usize,
    start: Instant,
    measure_from: Instant,
    stop: Instant,
    latencies: Arc<std::sync::Mutex<Vec<u32>>>,
) {
    let url = format!("ws://127.0.0.1:{port}/sync");
    let Ok((ws, _)) = tokio_tungstenite::connect_async(url).await else {
        return;
    };
    let (mut tx, mut rx) = ws.split();
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
    let _ = tx.send(Ws::binary(wire::encode(&hello))).await;
    let _ = tx
        .send(Ws::binary(wire::encode(&Message::Summary {
            docs: Vec::new(),
            last: true,
        })))
        .await;
    let (ack_tx, mut ack_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let reader = {
        let sent = sent.clone();
        let latencies = latencies.clone();
        tokio::spawn(async move {
            let limits = Limits::default();
            let mut mine = Vec::new();
            while let Some(Ok(msg)) = rx.next().await {
                let Ws::Binary(b) = msg else { continue };
                let Ok(Message::Changes { changes, stretch }) = wire::decode(&b, &limits) else {
                    continue;
                };
                let now = start.elapsed().as_micros() as u64;
                for c in changes {
                    let from = c.actor.to_bytes().first().map_or(0, |b| *b as usize - 1);
                    if let Some(at) = sent.get(doc_index).and_then(|s| s.slot(from, c.seq)) {
                        let t = at.load(Ordering::Relaxed);
                        if t > 0 && start + Duration::from_micros(t) >= measure_from {
                            mine.push(now.saturating_sub(t) as u32);
                        }
                    }
                }
                if let Some(s) = stretch {
                    let _ = ack_tx.send(s.to);
                }
            }
            latencies.lock().unwrap().extend(mine);
        })
    };
    let period = Duration::from_secs_f64(1.0 / RATE_HZ);
    // Spread the devices' phases over one period.
    let phase = period.mul_f64(((doc_index * DEVICES_PER_DOC + slot) % 97) as f64 / 97.0);
    let mut next = tokio::time::Instant::now() + phase;
    let mut seq = 0usize;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {
                if Instant::now() >= stop || seq >= changes[slot].len() {
                    break;
                }
                let mut c = changes[slot][seq].clone();
                c.doc = doc.clone();
                let msg = Message::Changes {
                    changes: vec![c],
                    stretch: Some(Stretch { from: seq as u64, to: seq as u64 + 1 }),
                };
                if let Some(at) = sent[doc_index].slot(slot, seq as u64 + 1) {
                    at.store(start.elapsed().as_micros().max(1) as u64, Ordering::Relaxed);
                }
                if tx.send(Ws::binary(wire::encode(&msg))).await.is_err() {
                    break;
                }
                seq += 1;
                next += period;
            }
            Some(upto) = ack_rx.recv() => {
                let _ = tx.send(Ws::binary(wire::encode(&Message::Ack { upto }))).await;
            }
        }
    }
    // Let the last deliveries arrive, then close.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = tx.send(Ws::Close(None)).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), reader).await;
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

/// Runs one document count; returns the JSON row.
fn run_size(rt: &tokio::runtime::Runtime, docs: usize, secs: u64) -> serde_json::Value {
    let relay = start_relay();
    let per_slot = ((secs + 6) as f64 * RATE_HZ) as usize + 10;
    let changes = Arc::new(make_changes(DEVICES_PER_DOC, per_slot));
    let sent: Arc<Vec<Sent>> = Arc::new(
        (0..docs)
            .map(|_| {
                Sent(
                    (0..DEVICES_PER_DOC * per_slot)
                        .map(|_| AtomicU64::new(0))
                        .collect(),
                    per_slot,
                )
            })
            .collect(),
    );
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let start = Instant::now();
    let ramp = Duration::from_secs(3);
    let measure_from = start + ramp;
    let stop = measure_from + Duration::from_secs(secs);
    let pid = relay.child.id();
    let mut cpu_start = 0.0;
    rt.block_on(async {
        let mut tasks = Vec::new();
        for d in 0..docs {
            let doc = DocId::new(format!("bench/{d}")).unwrap();
            for slot in 0..DEVICES_PER_DOC {
                tasks.push(tokio::spawn(device(
                    relay.port,
                    doc.clone(),
                    slot,
                    changes.clone(),
                    sent.clone(),
                    d,
                    start,
                    measure_from,
                    stop,
                    latencies.clone(),
                )));
            }
        }
        tokio::time::sleep_until(measure_from.into()).await;
        cpu_start = proc_usage(pid).0;
        for t in tasks {
            let _ = t.await;
        }
    });
    let (cpu_end, rss_kib) = proc_usage(pid);
    let measured = Duration::from_secs(secs).as_secs_f64();
    let mut l = std::mem::take(&mut *latencies.lock().unwrap());
    l.sort_unstable();
    let expected = (docs * DEVICES_PER_DOC * (DEVICES_PER_DOC - 1)) as f64 * RATE_HZ * measured;
    let row = json!({
        "documents": docs,
        "devices": docs * DEVICES_PER_DOC,
        "p50_ms": percentile(&l, 0.50),
        "p99_ms": percentile(&l, 0.99),
        "deliveries": l.len(),
        "delivered_fraction": l.len() as f64 / expected,
        "relay_cpu_percent": (cpu_end - cpu_start) / (measured + 0.5) * 100.0,
        "relay_rss_mib": rss_kib as f64 / 1024.0,
    });
    println!("relay_load: {row}");
    row
}

/// Holds `n` idle sessions; returns relay memory per connection (KiB).
fn run_idle(rt: &tokio::runtime::Runtime, n: usize) -> serde_json::Value {
    let relay = start_relay();
    let pid = relay.child.id();
    let (_, before) = proc_usage(pid);
    let held = rt.block_on(async {
        let mut socks = Vec::with_capacity(n);
        for i in 0..n {
            let url = format!("ws://127.0.0.1:{}/sync", relay.port);
            let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url).await else {
                break;
            };
            let hello = Message::Hello(Hello {
                versions: (PROTOCOL_VERSION, PROTOCOL_VERSION),
                device: DeviceId::random(),
                epoch: Epoch::random(),
                head: 0,
                label: "idle".into(),
                resume: None,
                interest: Interest::Docs(vec![DocId::new(format!("idle/{i}")).unwrap()]),
                token: token(),
            });
            let _ = ws.send(Ws::binary(wire::encode(&hello))).await;
            socks.push(ws);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        socks
    });
    let (_, after) = proc_usage(pid);
    let count = held.len();
    drop(held);
    let per_conn = (after.saturating_sub(before)) as f64 / count.max(1) as f64;
    let row = json!({ "connections": count, "relay_rss_mib": after as f64 / 1024.0, "kib_per_connection": per_conn });
    println!("relay_load idle: {row}");
    row
}

fn main() {
    let sizes = env_list("POLYARCH_BENCH_DOCS", &[50, 100, 250, 500, 1000]);
    let secs = env_list("POLYARCH_BENCH_SECS", &[8])
        .first()
        .copied()
        .unwrap_or(8) as u64;
    let idle = env_list("POLYARCH_BENCH_IDLE", &[10_000])
        .first()
        .copied()
        .unwrap_or(0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    let mut sustained = 0usize;
    for &docs in &sizes {
        let row = run_size(&rt, docs, secs);
        let ok = row["p99_ms"].as_f64().is_some_and(|p| p < P99_BOUND_MS)
            && row["delivered_fraction"].as_f64().is_some_and(|f| f > 0.95);
        if ok {
            sustained = sustained.max(docs);
        }
        rows.push(row);
        if !ok {
            break; // Larger counts will not do better.
        }
    }
    let idle_row = if idle > 0 {
        Some(run_idle(&rt, idle))
    } else {
        None
    };
    let report = json!({
        "name": "relay_load",
        "ours": sustained,
        "baseline": null,
        "unit": "documents with 4 devices at 6 changes/s each and p99 delivery < 100 ms",
        "ratio": null,
        "target": 1000,
        "target_kind": "at_least",
        "pass": sustained >= 1000,
        "details": { "sizes": rows, "idle": idle_row, "measured_secs": secs,
                     "machine_cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0) },
        "notes": [
            "load generator and relay share this machine's cores; the relay runs as its own process (SQLite, synchronous=NORMAL)",
            "baseline (automerge-repo sync server in Node) not measured yet: baseline and ratio are null",
        ],
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/polyarch-bench");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("relay_load.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!(
        "relay_load: sustained {sustained} documents (target 1000); wrote {}",
        path.display()
    );
}
