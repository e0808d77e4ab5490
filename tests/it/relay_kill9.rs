//! The real `polyarch-relay` binary, killed with SIGKILL in the middle of traffic and
//! restarted: nothing it acknowledged is lost, and every device converges.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use polyarch::Receipt;
use polyarch::relay::{RelayStore, Rights};

use crate::relay_support::{Device, SECRET, free_port, runtime, token, until, wait_healthy};

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
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(db.with_extension("log"))
        .expect("relay log");
    let child = Command::new(env!("CARGO_BIN_EXE_polyarch-relay"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--db")
        .arg(format!("sqlite:{}", db.display()))
        .args(["--sync", "full"])
        .env(
            "POLYARCH_RELAY_SECRET",
            std::str::from_utf8(SECRET).unwrap(),
        )
        .env("POLYARCH_RELAY_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start polyarch-relay");
    let relay = Relay(child);
    wait_healthy(format!("127.0.0.1:{port}").parse().unwrap());
    relay
}

#[test]
fn sigkill_during_traffic_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let port = free_port();
    let url = format!("ws://127.0.0.1:{port}/sync");
    let tok = token("", Rights::ReadWrite, 3600);
    let mut relay = spawn_relay(&db, port);
    let rt = runtime();
    rt.block_on(async {
        let mut devs: Vec<Device> = (0..3)
            .map(|i| Device::open(&dir.path().join(format!("dev{i}.db"))))
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
                relay.0.kill().unwrap(); // SIGKILL
                relay.0.wait().unwrap();
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
            let mut store = polyarch::relay::store::SqliteStore::open(&db, true).unwrap();
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
        relay = spawn_relay(&db, port);
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
    drop(relay);
}
