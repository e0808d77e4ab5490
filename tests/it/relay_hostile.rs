//! Hostile clients — malformed frames, oversized frames, floods, a client that never reads —
//! do not disturb the relay or its other clients, and corrupt nothing.

use std::time::{Duration, Instant};

use polyarch::net::ClientState;
use polyarch::relay::{RelayStore, Rights};
use polyarch::sync::{Interest, Message, RefusalCode};

use crate::relay_support::{
    Device, TestRelay, hello_frame, http_get, raw_closed, raw_connect, raw_recv, raw_send, runtime,
    sqlite_config, token, until,
};

const WAIT: Duration = Duration::from_secs(20);

/// How long a change takes from one honest device to another.
async fn round_trip(writer: &Device, reader: &Device, n: i64) -> Duration {
    let started = Instant::now();
    writer.edit("honest", |tx| tx.register(["n"]).set(n));
    until("honest change delivered", WAIT, || {
        reader.json("honest")["n"] == serde_json::json!(n)
    })
    .await;
    started.elapsed()
}

#[test]
fn hostile_clients_do_not_disturb_honest_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = sqlite_config(dir.path());
    config.max_outbound_bytes = 1 << 20;
    config.limits.max_frame_bytes = 1 << 20;
    config.write_timeout = Duration::from_secs(2);
    let relay = TestRelay::start(config);
    let url = relay.url();
    let tok = token("", Rights::ReadWrite, 3600);
    let rt = runtime();
    rt.block_on(async {
        let mut writer = Device::open(&dir.path().join("w.db"));
        let mut reader = Device::open(&dir.path().join("r.db"));
        writer.connect(&url, &tok);
        reader.connect(&url, &tok);
        assert!(reader.client().wait_for(ClientState::InSync, WAIT).await);
        round_trip(&writer, &reader, 0).await;

        // Garbage as the first frame.
        let mut ws = raw_connect(&url).await;
        raw_send(&mut ws, b"definitely not a frame".to_vec()).await;
        assert!(matches!(
            raw_recv(&mut ws, WAIT).await,
            Some(Message::Refused {
                code: RefusalCode::BadRequest,
                ..
            })
        ));
        assert!(raw_closed(&mut ws, WAIT).await);

        // A valid hello, then a frame with a corrupt payload.
        let mut ws = raw_connect(&url).await;
        raw_send(&mut ws, hello_frame(&tok, Interest::All)).await;
        let mut bad = hello_frame(&tok, Interest::All);
        let last = bad.len() - 1;
        bad[5] = 2; // a Changes frame whose payload is a hello's
        bad[last] ^= 0xff;
        raw_send(&mut ws, bad).await;
        assert!(
            raw_closed(&mut ws, WAIT).await,
            "a malformed frame closes the connection"
        );

        // A frame over the size limit.
        let mut ws = raw_connect(&url).await;
        raw_send(&mut ws, hello_frame(&tok, Interest::All)).await;
        raw_send(&mut ws, vec![0u8; 2 << 20]).await;
        assert!(
            raw_closed(&mut ws, WAIT).await,
            "an oversized frame closes the connection"
        );

        // A change whose bytes are not an automerge change.
        let mut ws = raw_connect(&url).await;
        raw_send(&mut ws, hello_frame(&tok, Interest::All)).await;
        let forged = polyarch::sync::wire::encode(&Message::Changes {
            changes: vec![polyarch::sync::WireChange {
                doc: polyarch::DocId::new("honest").unwrap(),
                actor: polyarch::automerge::ActorId::from(&[9u8; 16][..]),
                seq: 1,
                offset: 1,
                bytes: vec![1, 2, 3, 4],
            }],
            stretch: None,
        });
        raw_send(&mut ws, forged).await;
        assert!(
            raw_closed(&mut ws, WAIT).await,
            "an invalid change closes the connection"
        );

        // A flood of valid frames, in parallel with honest traffic.
        let flood_url = url.clone();
        let flood_tok = tok.clone();
        let flood = tokio::spawn(async move {
            let mut ws = raw_connect(&flood_url).await;
            raw_send(&mut ws, hello_frame(&flood_tok, Interest::Docs(Vec::new()))).await;
            let ack = polyarch::sync::wire::encode(&Message::Ack { upto: 0 });
            for _ in 0..20_000 {
                if !raw_send(&mut ws, ack.clone()).await {
                    break;
                }
            }
        });
        // A client that never reads, following everything.
        let mut sleeper = raw_connect(&url).await;
        raw_send(&mut sleeper, hello_frame(&tok, Interest::All)).await;
        raw_send(
            &mut sleeper,
            polyarch::sync::wire::encode(&Message::Summary {
                docs: Vec::new(),
                last: true,
            }),
        )
        .await;
        // Enough traffic to overflow its queue and socket buffers.
        // Incompressible, so that it really fills queues and socket buffers.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut noise = |n: usize| -> String {
            (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    char::from(b'!' + (x % 90) as u8)
                })
                .collect()
        };
        for i in 0..80 {
            let big = noise(200_000);
            writer.edit(&format!("bulk/{i}"), |tx| tx.register(["v"]).set(big));
        }
        let mut worst = Duration::ZERO;
        for n in 1..=10 {
            worst = worst.max(round_trip(&writer, &reader, n).await);
        }
        assert!(
            worst < Duration::from_secs(5),
            "honest round trips stayed fast: {worst:?}"
        );
        until(
            "the relay cut off the client that never reads",
            WAIT,
            || http_get(relay.addr, "/metrics").is_some_and(|m| m.contains("reason=\"TooSlow\"")),
        )
        .await;
        flood.await.unwrap();
        drop(sleeper);
        until("reader has all bulk documents", WAIT, || {
            (0..80).all(|i| {
                reader.json(&format!("bulk/{i}"))["v"]
                    .as_str()
                    .map(str::len)
                    == Some(200_000)
            })
        })
        .await;
        assert!(http_get(relay.addr, "/healthz").is_some_and(|b| b.contains("ok")));
        writer.disconnect().await;
        reader.disconnect().await;
    });
    relay.stop().unwrap();
    // Nothing stored is corrupted: the store opens and holds every bulk change once.
    let mut store =
        polyarch::relay::store::SqliteStore::open(&dir.path().join("relay.db"), false).unwrap();
    let log = store.read_log(0, 100_000, 1 << 30).unwrap();
    assert!(
        log.iter()
            .filter(|e| e.doc.as_str().starts_with("bulk/"))
            .count()
            == 80
    );
}
