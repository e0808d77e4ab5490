//! The access-control matrix: right, wrong, expired, read-only and other-document tokens, and
//! no token, each against reading and writing a document.

use std::time::Duration;

use polyarch::net::{ClientError, ClientState};
use polyarch::relay::{Claims, Rights};
use polyarch::sync::{Interest, Message, RefusalCode};

use crate::relay_support::{
    Device, SECRET, TestRelay, hello_frame, raw_closed, raw_connect, raw_recv, raw_send, runtime,
    sqlite_config, token, until,
};

const WAIT: Duration = Duration::from_secs(15);
/// How long we watch for something that must not happen.
const QUIET: Duration = Duration::from_millis(1_500);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Case {
    Right,
    Wrong,
    Expired,
    ReadOnly,
    OtherDoc,
    Missing,
}

fn token_for(case: Case) -> String {
    match case {
        Case::Right => token("team/", Rights::ReadWrite, 3600),
        Case::Wrong => polyarch::relay::token::mint(
            b"some-other-relays-secret",
            &Claims {
                prefix: "team/".into(),
                rights: Rights::ReadWrite,
                expires_at: polyarch::relay::token::unix_now() + 3600,
                device: None,
            },
        )
        .unwrap(),
        Case::Expired => token("team/", Rights::ReadWrite, -10),
        Case::ReadOnly => token("team/", Rights::Read, 3600),
        Case::OtherDoc => token("other/", Rights::ReadWrite, 3600),
        Case::Missing => String::new(),
    }
}

#[test]
fn token_matrix_for_reads_and_writes() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(sqlite_config(dir.path()));
    let url = relay.url();
    let rt = runtime();
    rt.block_on(async {
        // An owner seeds the document and watches what reaches the relay.
        let mut owner = Device::open(&dir.path().join("owner.db"));
        owner.connect(&url, &token("", Rights::ReadWrite, 3600));
        owner.edit("team/a", |tx| tx.register(["title"]).set("seed"));
        assert!(owner.client().wait_for(ClientState::InSync, WAIT).await);
        until("seed stored", WAIT, || owner.client().acked() >= 1).await;

        for (n, case) in [
            Case::Right,
            Case::Wrong,
            Case::Expired,
            Case::ReadOnly,
            Case::OtherDoc,
            Case::Missing,
        ]
        .into_iter()
        .enumerate()
        {
            let mut d = Device::open(&dir.path().join(format!("d{n}.db")));
            d.connect(&url, &token_for(case));
            let can_read = matches!(case, Case::Right | Case::ReadOnly);
            let can_write = case == Case::Right;
            let refused = matches!(case, Case::Wrong | Case::Expired | Case::Missing);
            // Read.
            if can_read {
                until(&format!("{case:?} reads"), WAIT, || {
                    d.json("team/a")["title"] == "seed"
                })
                .await;
            } else {
                tokio::time::sleep(QUIET).await;
                assert_eq!(
                    d.json("team/a"),
                    serde_json::Value::Null,
                    "{case:?} must not read"
                );
            }
            if refused {
                assert_eq!(
                    d.client().state(),
                    ClientState::Offline,
                    "{case:?} is turned away"
                );
                let err = d.client().last_error().unwrap_or_default();
                let expect = match case {
                    Case::Expired => "expired",
                    Case::Missing => "requires an access token",
                    _ => "not issued by this relay",
                };
                assert!(err.contains(expect), "{case:?}: {err}");
            }
            // Write.
            let marker = format!("written by {case:?}");
            let written = d.edit("team/a", |tx| tx.set(["writers"]).add(marker.clone()));
            let receipt = written.receipt.expect("a change");
            if case == Case::ReadOnly {
                // The relay acknowledges the log around a refused change, but the receipt
                // must say it was refused, never "stored by the relay".
                let waited = tokio::time::timeout(WAIT, d.client().wait_stored_by_relay(&receipt))
                    .await
                    .expect("the wait ends");
                assert!(
                    matches!(waited, Err(ClientError::WriteRefused { .. })),
                    "a refused write is not stored by the relay: {waited:?}"
                );
                // The refusal and the acknowledgement come in separate frames: the wait above
                // may end before the acknowledgement is handled.
                let offset = receipt.offset.expect("committed");
                until("the relay acknowledges the log around it", WAIT, || {
                    d.client().acked() >= offset
                })
                .await;
                assert!(d.client().stored_by_relay(&receipt).is_ok_and(|s| !s));
            }
            if can_write {
                let waited = tokio::time::timeout(WAIT, d.client().wait_stored_by_relay(&receipt))
                    .await
                    .expect("the wait ends");
                assert!(waited.is_ok(), "{case:?}: {waited:?}");
                assert!(d.client().stored_by_relay(&receipt).is_ok_and(|s| s));
                until(&format!("{case:?} writes"), WAIT, || {
                    owner.json("team/a")["writers"]
                        .to_string()
                        .contains(&marker)
                })
                .await;
            } else {
                tokio::time::sleep(QUIET).await;
                assert!(
                    !owner.json("team/a")["writers"]
                        .to_string()
                        .contains(&marker),
                    "{case:?} must not write"
                );
            }
            // A read-only device stays connected and keeps following after its refused write.
            if case == Case::ReadOnly {
                owner.edit("team/a", |tx| tx.register(["title"]).set("after"));
                until("read-only still follows", WAIT, || {
                    d.json("team/a")["title"] == "after"
                })
                .await;
                owner.edit("team/a", |tx| tx.register(["title"]).set("seed"));
                until("read-only follows again", WAIT, || {
                    d.json("team/a")["title"] == "seed"
                })
                .await;
            }
            d.disconnect().await;
        }
        owner.disconnect().await;
    });
}

#[test]
fn refusals_carry_their_code_and_close_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(sqlite_config(dir.path()));
    let url = relay.url();
    let rt = runtime();
    rt.block_on(async {
        for (case, code) in [
            (Case::Wrong, RefusalCode::Unauthorized),
            (Case::Missing, RefusalCode::Unauthorized),
            (Case::Expired, RefusalCode::Expired),
        ] {
            let mut ws = raw_connect(&url).await;
            assert!(raw_send(&mut ws, hello_frame(&token_for(case), Interest::All)).await);
            match raw_recv(&mut ws, WAIT).await {
                Some(Message::Refused { code: got, .. }) => assert_eq!(got, code, "{case:?}"),
                other => panic!("{case:?}: expected a refusal, got {other:?}"),
            }
            assert!(
                raw_closed(&mut ws, WAIT).await,
                "{case:?}: the relay closes the connection"
            );
        }
        // A token signed with a short secret is refused by the relay's own checks too.
        assert!(
            polyarch::relay::token::mint(
                b"short",
                &Claims {
                    prefix: String::new(),
                    rights: Rights::Read,
                    expires_at: 1,
                    device: None,
                }
            )
            .is_err()
        );
        let _ = SECRET;
    });
}
