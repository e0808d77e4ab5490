//! A device that only reads still acknowledges what the relay sends it, within its
//! `ClientConfig::ack_delay`, through its own timer: the relay's lag figure for it (and where it
//! resumes) does not wait for the device to write something.

use std::time::Duration;

use polyarch::relay::Rights;

use crate::relay_support::{
    Device, TestRelay, client_config, http_get, runtime, sqlite_config, token, until,
};

const WAIT: Duration = Duration::from_secs(20);

/// The relay's lag figure (offsets sent, not acknowledged) for `device`'s connections.
fn lag(relay: &TestRelay, device: &str) -> Vec<i64> {
    let metrics = http_get(relay.addr, "/metrics").expect("metrics");
    metrics
        .lines()
        .filter(|l| l.contains("device_lag_offsets{") && l.contains(device))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect()
}

/// A writer types 3 changes; a reader connected with `ack_delay` (and a tick far longer than
/// the test) receives them. Returns the relay's lag figure for the reader once it holds them,
/// after waiting `settle` (or as soon as it is zero).
fn reader_lag(ack_delay: Duration, settle: Duration) -> i64 {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(sqlite_config(dir.path()));
    let url = relay.url();
    let tok = token("", Rights::ReadWrite, 3600);
    runtime().block_on(async {
        let mut writer = Device::open(&dir.path().join("w.db"));
        let mut reader = Device::open(&dir.path().join("r.db"));
        let reader_id = reader.repo.lock().unwrap().device_id().to_string();
        writer.connect(&url, &tok);
        let mut config = client_config(&url, &tok);
        config.ack_delay = ack_delay;
        config.tick = Duration::from_secs(3600);
        reader.connect_with(config);
        for n in 1..=3 {
            writer.edit("doc", |tx| tx.counter(["n"]).increment(1));
            until("the change delivered", WAIT, || {
                reader.json("doc")["n"] == serde_json::json!(n)
            })
            .await;
        }
        let deadline = tokio::time::Instant::now() + settle;
        loop {
            let lags = lag(&relay, &reader_id);
            assert_eq!(lags.len(), 1, "one connection of the reader: {lags:?}");
            if lags[0] == 0 || tokio::time::Instant::now() >= deadline {
                return lags[0];
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

#[test]
fn a_reader_acknowledges_on_its_own_once_due() {
    assert_eq!(
        reader_lag(Duration::from_millis(200), WAIT),
        0,
        "the reader acknowledged everything it received without writing anything"
    );
}

#[test]
fn before_it_is_due_the_acknowledgement_waits() {
    // The same exchange, with a delay longer than the test: nothing acknowledges the stretches
    // (so the test above sees the timer, not something else, send them).
    assert!(reader_lag(Duration::from_secs(3600), Duration::from_secs(1)) > 0);
}
