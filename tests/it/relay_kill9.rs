//! The real `polyarch-relay` binary, killed with SIGKILL in the middle of traffic and
//! restarted: nothing it acknowledged is lost, and every device converges.

use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use polyarch::Receipt;
use polyarch::relay::{RelayStore, Rights};

use crate::cli_edit::{ok, polyarch};
use crate::relay_support::{Device, free_port, relay_command, runtime, token, until, wait_healthy};

const WAIT: Duration = Duration::from_secs(30);

/// The relay process; killed if the test ends early.
struct Relay(Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_relay(db: &std::path::Path, port: u16) -> Relay {
    let child = relay_command(db, port, &db.with_extension("log"))
        .args(["--sync", "full"])
        .spawn()
        .expect("start polyarch-relay");
    let relay = Relay(child);
    wait_healthy(format!("127.0.0.1:{port}").parse().unwrap());
    relay
}

/// A relay process over a SQLite file in a temporary directory, and how devices reach it.
struct Scene {
    dir: tempfile::TempDir,
    db: std::path::PathBuf,
    port: u16,
    url: String,
    tok: String,
    relay: Relay,
}

impl Scene {
    /// Kills the relay with SIGKILL and waits for it to be gone.
    fn kill(&mut self) {
        self.relay.0.kill().unwrap();
        self.relay.0.wait().unwrap();
    }

    /// Starts the relay again over the same database and port.
    fn restart(&mut self) {
        self.relay = spawn_relay(&self.db, self.port);
    }

    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("relay.db");
        let port = free_port();
        let relay = spawn_relay(&db, port);
        Self {
            url: format!("ws://127.0.0.1:{port}/sync"),
            tok: token("", Rights::ReadWrite, 3600),
            dir,
            db,
            port,
            relay,
        }
    }
}

#[test]
fn sigkill_during_traffic_loses_nothing_acknowledged() {
    let mut scene = Scene::start();
    let (url, tok) = (scene.url.clone(), scene.tok.clone());
    let rt = runtime();
    rt.block_on(async {
        let mut devs: Vec<Device> = (0..3)
            .map(|i| Device::open(&scene.dir.path().join(format!("dev{i}.db"))))
            .collect();
        for d in devs.iter_mut() {
            d.connect(&url, &tok);
        }
        // Traffic: every device writes steadily; the relay is killed in the middle of it.
        let mut receipts: Vec<Vec<Receipt>> = vec![Vec::new(); 3];
        for round in 0..60 {
            for (i, d) in devs.iter().enumerate() {
                // One set per device: concurrent first writes never fight over one key.
                let r = d.edit(&format!("doc/{}", round % 4), |tx| {
                    tx.set([format!("dev{i}").as_str()]).add(format!("{round}"))
                });
                receipts[i].push(r.receipt.unwrap());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            if round == 30 {
                scene.kill();
            }
        }
        // What the devices saw acknowledged before (and at) the kill.
        let acked: Vec<u64> = devs.iter().map(|d| d.client().acked()).collect();
        assert!(
            acked.iter().all(|a| *a > 0),
            "the relay acknowledged something before dying: {acked:?}"
        );
        // Every acknowledged change is in the relay's database.
        {
            let mut store = polyarch::relay::store::SqliteStore::open(&scene.db, true).unwrap();
            for (i, d) in devs.iter().enumerate() {
                let actor = d.repo.lock().unwrap().actor().clone();
                for r in receipts[i]
                    .iter()
                    .filter(|r| r.offset.is_some_and(|o| o <= acked[i]))
                {
                    let held = store.version(&r.doc).unwrap().get(&actor);
                    assert!(
                        held >= r.seq,
                        "dev{i}: acknowledged change {} of {} lost",
                        r.seq,
                        r.doc
                    );
                }
            }
        }
        // Restart: devices reconnect by themselves and converge.
        scene.restart();
        for (i, d) in devs.iter().enumerate() {
            d.edit("doc/after", |tx| {
                tx.set([format!("dev{i}").as_str()]).add("after")
            });
        }
        let docs: Vec<String> = (0..4)
            .map(|i| format!("doc/{i}"))
            .chain(["doc/after".to_string()])
            .collect();
        until("devices converge after the restart", WAIT, || {
            docs.iter().all(|doc| {
                let a = devs[0].json(doc);
                a != serde_json::Value::Null && devs[1].json(doc) == a && devs[2].json(doc) == a
            })
        })
        .await;
        let entries = |doc: &str| -> usize {
            let json = devs[0].json(doc);
            (0..3)
                .map(|i| json[format!("dev{i}")].as_object().map_or(0, |o| o.len()))
                .sum()
        };
        assert_eq!(entries("doc/after"), 3, "{}", devs[0].json("doc/after"));
        let total: usize = (0..4).map(|i| entries(&format!("doc/{i}"))).sum();
        assert_eq!(
            total, 180,
            "every change of every device arrived everywhere"
        );
        for d in devs.iter_mut() {
            d.disconnect().await;
        }
    });
    drop(scene);
}

/// The same with device processes: three replica files, each edited and synced by the
/// `polyarch` command line in a loop of short-lived processes, while the relay is killed with
/// SIGKILL in the middle of the traffic. A sync that meets a dead relay fails and the next one
/// resumes. Everything the relay acknowledged before it died is in its database; once it is
/// back, every device converges to every edit.
#[test]
fn sigkill_while_device_processes_sync_loses_nothing_acknowledged() {
    const ROUNDS: usize = 16;
    let mut scene = Scene::start();
    let (url, tok) = (scene.url.clone(), scene.tok.clone());
    let files: Vec<String> = (0..3)
        .map(|i| {
            let f = scene.dir.path().join(format!("cli{i}.db"));
            let f = f.to_str().unwrap().to_owned();
            ok(&["init", &f]);
            f
        })
        .collect();
    let sync = |file: &str| polyarch(&["sync", file, &url, "--token", &tok, "--timeout", "10"]);

    // Traffic: each device edits and syncs in turn; the relay dies half-way through.
    let rounds_done = AtomicUsize::new(0);
    let (synced, failed) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|s| {
        for (i, file) in files.iter().enumerate() {
            let (rounds_done, sync, synced, failed) = (&rounds_done, &sync, &synced, &failed);
            s.spawn(move || {
                for round in 0..ROUNDS {
                    let doc = format!("doc/{}", round % 3);
                    ok(&["add", file, &doc, &format!("dev{i}"), &round.to_string()]);
                    // Fails while the relay is dead; the next one resumes.
                    let counter = if sync(file).status.success() {
                        synced
                    } else {
                        failed
                    };
                    counter.fetch_add(1, Ordering::SeqCst);
                    rounds_done.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        while rounds_done.load(Ordering::SeqCst) < 3 * ROUNDS / 2 {
            std::thread::sleep(Duration::from_millis(5));
        }
        scene.kill(); // with syncs in flight
    });
    let (synced, failed) = (synced.into_inner(), failed.into_inner());
    assert!(
        synced > 0 && failed > 0,
        "the relay died in the middle of the traffic: {synced} syncs before, {failed} failed"
    );

    // Every change a device saw acknowledged is in the relay's database.
    {
        let mut store = polyarch::relay::store::SqliteStore::open(&scene.db, true).unwrap();
        let mut acked_any = false;
        for (i, file) in files.iter().enumerate() {
            let repo = polyarch::Repo::open(file, polyarch::RepoConfig::default()).unwrap();
            let peers = repo.store().peers().unwrap();
            assert_eq!(peers.len(), 1, "dev{i} met only the relay");
            let acked = peers[0].acked;
            acked_any |= acked > 0;
            for e in repo.store().read_log(0, usize::MAX, usize::MAX).unwrap() {
                if e.offset <= acked {
                    let held = store.version(&e.doc).unwrap().get(&e.actor);
                    assert!(
                        held >= e.seq,
                        "dev{i}: change {} of {} was acknowledged (log offset {} <= {acked}) and lost",
                        e.seq,
                        e.doc,
                        e.offset
                    );
                }
            }
        }
        assert!(acked_any, "the relay acknowledged something before dying");
    }

    // Restart: a last edit each, then sync until every device holds everything.
    scene.restart();
    for (i, file) in files.iter().enumerate() {
        ok(&["add", file, "doc/after", &format!("dev{i}"), "after"]);
    }
    let entries = |file: &str, doc: &str| -> usize {
        let json: serde_json::Value = serde_json::from_str(&ok(&["dump", file, doc])).unwrap();
        (0..3)
            .map(|i| json[format!("dev{i}")].as_object().map_or(0, |o| o.len()))
            .sum()
    };
    // Two passes: the first brings every device's changes to the relay, the second takes
    // them to every device. Each sync must finish: an exchange right after the restart used
    // to stall until its timeout, waiting for an acknowledgement the relay never re-sent
    // (see `resume_and_resync::a_stretch_received_again_is_acknowledged_again`).
    for _ in 0..2 {
        for file in &files {
            let out = sync(file);
            assert!(
                out.status.success(),
                "sync of {file} after the restart: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    for file in &files {
        let total: usize = (0..3).map(|d| entries(file, &format!("doc/{d}"))).sum();
        assert_eq!(
            total,
            3 * ROUNDS,
            "{file}: every edit of every device arrived"
        );
        assert_eq!(entries(file, "doc/after"), 3, "{file}");
    }
    drop(scene);
}
