//! Two relays over one PostgreSQL database: a change sent to relay A reaches a device
//! connected to relay B through LISTEN/NOTIFY (the safety poll is set too slow to matter).

use std::time::{Duration, Instant};

use polyarch::net::ClientState;
use polyarch::relay::{RelayConfig, Rights, Storage};

use crate::relay_support::{Device, PgServer, SECRET, TestRelay, runtime, token, until};

fn pg_config(url: &str) -> RelayConfig {
    let mut c = RelayConfig::new(Storage::Postgres(url.to_string()));
    c.secret = Some(SECRET.to_vec());
    c.poll_interval = Duration::from_secs(3600);
    c
}

#[test]
fn two_relays_on_one_database_fan_out_to_each_other() {
    let pg = PgServer::start();
    let url = pg.database("fanout");
    let a = TestRelay::start(pg_config(&url));
    let b = TestRelay::start(pg_config(&url));
    let tok = token("", Rights::ReadWrite, 3600);
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    rt.block_on(async {
        let wait = Duration::from_secs(20);
        let mut on_a = Device::open(&dir.path().join("a.db"));
        let mut on_b = Device::open(&dir.path().join("b.db"));
        on_a.connect(&a.url(), &tok);
        on_b.connect(&b.url(), &tok);
        assert!(on_a.client().wait_for(ClientState::InSync, wait).await);
        assert!(on_b.client().wait_for(ClientState::InSync, wait).await);
        for n in 1..=20i64 {
            let started = Instant::now();
            on_a.edit("shared", |tx| tx.register(["n"]).set(n));
            until("B's device sees A's change", wait, || {
                on_b.json("shared")["n"] == serde_json::json!(n)
            })
            .await;
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "live path, not the safety poll"
            );
        }
        on_b.edit("shared", |tx| tx.text(["t"]).splice(0, 0, "from b"));
        until("A's device sees B's change", wait, || {
            on_a.json("shared")["t"] == "from b"
        })
        .await;
        // Both relays are one relay to devices: moving from B to A resumes, no full resync.
        on_b.disconnect().await;
        on_a.edit("shared", |tx| tx.register(["n"]).set(99i64));
        on_b.connect(&a.url(), &tok);
        until("moved device catches up", wait, || {
            on_b.json("shared")["n"] == serde_json::json!(99)
        })
        .await;
        assert!(
            !on_b.client().session_stats().full_resync,
            "same identity, same cursor"
        );
        on_a.disconnect().await;
        on_b.disconnect().await;
    });
    a.stop().unwrap();
    b.stop().unwrap();
}
