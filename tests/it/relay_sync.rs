//! Devices that are never online together converge through an in-process relay: offline
//! edits, reconnections in different orders, incremental resume after a restart, durability
//! receipts, live fan-out, and compaction.

use std::time::Duration;

use polyarch::net::ClientState;
use polyarch::relay::Rights;

use crate::relay_support::{Device, TestRelay, runtime, sqlite_config, token, until};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn three_devices_edit_offline_reconnect_in_different_orders_and_converge() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(sqlite_config(dir.path()));
    let url = relay.url();
    let tok = token("", Rights::ReadWrite, 3600);
    let rt = runtime();
    rt.block_on(async {
        let mut devs: Vec<Device> = (0..3)
            .map(|i| Device::open(&dir.path().join(format!("dev{i}.db"))))
            .collect();
        // Round 1: everyone edits offline, then they connect one at a time, in order 2, 0, 1,
        // each disconnecting before the next connects: never online together.
        for (i, d) in devs.iter().enumerate() {
            d.edit("cal/team", |tx| {
                tx.set(["attendees"]).add(format!("dev{i}"))
            });
            d.edit("cal/team", |tx| tx.counter(["rsvps"]).increment(1));
            d.edit(&format!("notes/{i}"), |tx| {
                tx.text(["body"]).splice(0, 0, "hello")
            });
        }
        for order in [[2usize, 0, 1], [1, 2, 0], [0, 1, 2]] {
            for &i in &order {
                devs[i].connect(&url, &tok);
                let ok = devs[i].client().wait_for(ClientState::InSync, WAIT).await;
                assert!(
                    ok,
                    "dev{i} reached in-sync ({:?})",
                    devs[i].client().last_error()
                );
                devs[i].disconnect().await;
            }
            // Everyone edits again while offline.
            for (i, d) in devs.iter().enumerate() {
                d.edit("cal/team", |tx| {
                    tx.register(["title"]).set(format!("by dev{i}"))
                });
            }
        }
        // Final pass: all connect together and converge.
        for d in devs.iter_mut() {
            d.connect(&url, &tok);
        }
        let docs = ["cal/team", "notes/0", "notes/1", "notes/2"];
        until("three devices converge", WAIT, || {
            docs.iter().all(|doc| {
                let a = devs[0].json(doc);
                a != serde_json::Value::Null && devs[1].json(doc) == a && devs[2].json(doc) == a
            })
        })
        .await;
        let team = devs[0].json("cal/team");
        assert_eq!(team["rsvps"], serde_json::json!(3), "{team}");
        for d in devs.iter_mut() {
            d.disconnect().await;
        }
    });
    relay.stop().unwrap();
}

#[test]
fn a_restarted_device_resumes_incrementally_and_gets_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(sqlite_config(dir.path()));
    let url = relay.url();
    let tok = token("", Rights::ReadWrite, 3600);
    let rt = runtime();
    rt.block_on(async {
        let path = dir.path().join("phone.db");
        let mut phone = Device::open(&path);
        let mut laptop = Device::open(&dir.path().join("laptop.db"));
        phone.connect(&url, &tok);
        laptop.connect(&url, &tok);
        for i in 0..50 {
            phone.edit("doc", |tx| tx.counter(["n"]).increment(1));
            laptop.edit(&format!("other/{i}"), |tx| tx.register(["v"]).set(i as i64));
        }
        // A durability receipt resolves once the relay stored the change.
        let receipt = phone
            .edit("doc", |tx| tx.register(["last"]).set("x"))
            .receipt
            .expect("a change");
        tokio::time::timeout(WAIT, phone.client().wait_stored_by_relay(&receipt))
            .await
            .expect("the relay acknowledged in time")
            .expect("stored");
        // The phone holds everything the laptop wrote: the laptop's last edit is the last of
        // its changes in the relay's log, so the phone's cursor now covers them all.
        until("phone holds the laptop's edits", WAIT, || {
            phone.json("other/49")["v"] == serde_json::json!(49)
        })
        .await;
        until("phone in sync", WAIT, || {
            phone.client().state() == ClientState::InSync
        })
        .await;
        // Whether first contact was a full resync depends on whether the laptop's changes
        // reached the relay before the phone did (an empty relay log needs no resync).
        phone.disconnect().await;
        drop(phone);

        // While the phone is off, the laptop changes one document.
        laptop.edit("doc", |tx| tx.counter(["n"]).increment(100));
        until("laptop stored", WAIT, || laptop.client().acked() > 0).await;

        // Restart the phone from its file: it resumes from its cursor, no full resync.
        let mut phone = Device::open(&path);
        phone.connect(&url, &tok);
        until("phone caught up", WAIT, || {
            phone.json("doc")["n"] == serde_json::json!(150)
        })
        .await;
        let stats = phone.client().session_stats();
        assert!(
            !stats.full_resync,
            "a restarted device resumes from its cursor: {stats:?}"
        );
        assert_eq!(
            stats.changes_in, 1,
            "only the laptop's one change is sent: {stats:?}"
        );
        phone.disconnect().await;
        laptop.disconnect().await;
    });
    relay.stop().unwrap();
}

#[test]
fn live_changes_fan_out_to_followers_only() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(sqlite_config(dir.path()));
    let url = relay.url();
    let rt = runtime();
    rt.block_on(async {
        let mut a = Device::open(&dir.path().join("a.db"));
        let mut b = Device::open(&dir.path().join("b.db"));
        let mut c = Device::open(&dir.path().join("c.db"));
        a.connect(&url, &token("shared/", Rights::ReadWrite, 3600));
        b.connect(&url, &token("shared/", Rights::ReadWrite, 3600));
        c.connect(&url, &token("private/", Rights::ReadWrite, 3600));
        for d in [&a, &b, &c] {
            assert!(d.client().wait_for(ClientState::InSync, WAIT).await);
        }
        a.edit("shared/x", |tx| tx.text(["t"]).splice(0, 0, "live"));
        c.edit("private/y", |tx| tx.register(["v"]).set(1i64));
        until("b sees a's change", WAIT, || {
            b.json("shared/x") == a.json("shared/x")
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            c.json("shared/x"),
            serde_json::Value::Null,
            "c may not read shared/"
        );
        assert_eq!(
            b.json("private/y"),
            serde_json::Value::Null,
            "b may not read private/"
        );
        for d in [&mut a, &mut b, &mut c] {
            d.disconnect().await;
        }
    });
}

#[test]
fn compaction_bootstraps_new_devices_and_resyncs_old_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = sqlite_config(dir.path());
    config.compact_after = 40;
    let relay = TestRelay::start(config);
    let url = relay.url();
    let tok = token("", Rights::ReadWrite, 3600);
    let rt = runtime();
    rt.block_on(async {
        let mut writer = Device::open(&dir.path().join("w.db"));
        let mut old = Device::open(&dir.path().join("old.db"));
        writer.connect(&url, &tok);
        old.connect(&url, &tok);
        writer.edit("big", |tx| tx.counter(["n"]).increment(1));
        until("old has the start", WAIT, || {
            old.json("big")["n"] == serde_json::json!(1)
        })
        .await;
        old.disconnect().await;
        for _ in 0..199 {
            writer.edit("big", |tx| tx.counter(["n"]).increment(1));
        }
        until("writer stored", WAIT, || writer.client().acked() >= 200).await;
        // Wait until the relay compacted the document (its log rows went into a snapshot).
        let db = dir.path().join("relay.db");
        until("relay compacted", WAIT, || {
            let mut s = polyarch::relay::store::SqliteStore::open(&db, false).unwrap();
            use polyarch::relay::RelayStore;
            s.snapshot(&polyarch::DocId::new("big").unwrap())
                .unwrap()
                .is_some()
        })
        .await;
        // A new device bootstraps from the snapshot plus the tail.
        let mut fresh = Device::open(&dir.path().join("fresh.db"));
        fresh.connect(&url, &tok);
        until("fresh converges", WAIT, || {
            fresh.json("big")["n"] == serde_json::json!(200)
        })
        .await;
        // A device whose cursor is before the compacted range gets a full resync.
        old.connect(&url, &tok);
        until("old converges", WAIT, || {
            old.json("big")["n"] == serde_json::json!(200)
        })
        .await;
        for d in [&mut writer, &mut old, &mut fresh] {
            d.disconnect().await;
        }
    });
}
