//! A device serves its peers over TLS: `polyarch serve --tls-cert/--tls-key` (or the
//! environment) prints a `wss://` URL, a peer that trusts the certificate (`polyarch sync
//! --ca-file`, or `ClientConfig::trusted_certs_pem` with `net::serve` in process) converges
//! with it, and one that does not, or speaks plain `ws://`, gets a clear error and no data.
//! Bad certificate files stop `serve` before it listens, with a reason.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use polyarch::net::{ClientState, ServeConfig, TlsIdentity};

use crate::cli_edit::{ok, polyarch};
use crate::cli_network::ServeProcess;
use crate::relay_support::{Device, client_config, runtime, self_signed, until};

const WAIT: Duration = Duration::from_secs(20);

/// Generous: the machine running the tests may be loaded.
const SYNC_TIMEOUT: &str = "120";

/// A certificate for 127.0.0.1 and its key, written to `dir`: (cert file, key file).
fn certificate_files(dir: &Path, name: &str) -> (String, String) {
    let (cert, key) = self_signed();
    let cert_file = dir.join(format!("{name}-cert.pem"));
    let key_file = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert_file, &cert).unwrap();
    std::fs::write(&key_file, &key).unwrap();
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    (path(&cert_file), path(&key_file))
}

/// A new replica file in `dir`, edited with `edits` (each an editing command's arguments
/// after the file).
fn replica(dir: &Path, name: &str, edits: &[&[&str]]) -> String {
    let file = dir.join(format!("{name}.db")).to_str().unwrap().to_owned();
    ok(&["init", &file]);
    for edit in edits {
        let mut args = vec![edit[0], &file];
        args.extend(&edit[1..]);
        ok(&args);
    }
    file
}

/// `polyarch sync FILE URL` with `extra` arguments.
fn sync(file: &str, url: &str, extra: &[&str]) -> Output {
    let mut args = vec!["sync", file, url, "--timeout", SYNC_TIMEOUT];
    args.extend(extra);
    polyarch(&args)
}

/// `polyarch sync FILE URL` with `extra` arguments, which must succeed; its stdout.
fn synced(file: &str, url: &str, extra: &[&str]) -> String {
    let out = sync(file, url, extra);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts `out` failed with status 1 and one line on stderr mentioning each of `mentions`.
fn failed(out: &Output, mentions: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    for m in mentions {
        assert!(err.contains(m), "{err:?} should mention {m:?}");
    }
}

/// Runs `polyarch` with `args`, which must exit on its own: a `serve` that should have
/// refused to start is killed after a while, and the test fails instead of hanging.
fn exits(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_polyarch"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run polyarch");
    let deadline = Instant::now() + WAIT;
    while child.try_wait().expect("wait for polyarch").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("polyarch output");
            panic!("polyarch {args:?} kept running: {out:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("polyarch output")
}

#[test]
fn a_peer_that_trusts_the_certificate_converges_over_wss() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate_files(dir.path(), "laptop");
    let laptop = replica(
        dir.path(),
        "laptop",
        &[
            &["set", "cal", "title", "Lunch"],
            &["add", "cal", "guests", "ada"],
        ],
    );
    let phone = replica(
        dir.path(),
        "phone",
        &[
            &["set", "cal", "title", "Dinner"],
            &["incr", "cal", "rsvp", "2"],
        ],
    );

    let server = ServeProcess::start_with(&laptop, &["--tls-cert", &cert, "--tls-key", &key]);
    assert!(server.url.starts_with("wss://127.0.0.1:"), "{}", server.url);
    let summary = synced(&phone, &server.url, &["--ca-file", &cert]);
    assert!(summary.contains("changes_in=2 changes_out=2"), "{summary}");
    // A second sync resumes from its cursor, over TLS too.
    ok(&["append", &phone, "cal", "notes", "after the first sync"]);
    let summary = synced(&phone, &server.url, &["--ca-file", &cert]);
    assert!(summary.contains("full_resync=no"), "{summary}");
    server.stop();

    let dump = |file: &str| ok(&["dump", file, "cal"]);
    assert_eq!(dump(&laptop), dump(&phone));
    let titles = ok(&["get", &laptop, "cal", "title"]);
    assert_eq!(
        titles.lines().count(),
        2,
        "both concurrent values: {titles}"
    );
    assert_eq!(
        ok(&["get", &laptop, "cal", "notes"]).trim(),
        "\"after the first sync\""
    );
}

#[test]
fn an_untrusting_or_plain_ws_peer_is_told_why_and_gets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate_files(dir.path(), "laptop");
    let (other_cert, _) = certificate_files(dir.path(), "other");
    let laptop = replica(dir.path(), "laptop", &[&["set", "cal", "title", "secret"]]);
    // The certificate and key from the environment this time.
    let server = ServeProcess::spawn(
        ServeProcess::command(&laptop, &[])
            .env("POLYARCH_TLS_CERT", &cert)
            .env("POLYARCH_TLS_KEY", &key),
    );
    let wss = server.url.clone();
    assert!(wss.starts_with("wss://127.0.0.1:"), "{wss}");
    let ws = wss.replacen("wss://", "ws://", 1);

    let stranger = replica(dir.path(), "stranger", &[]);
    // Trusting only the public roots, or another certificate.
    failed(&sync(&stranger, &wss, &[]), &["UnknownIssuer", "--ca-file"]);
    failed(
        &sync(&stranger, &wss, &["--ca-file", &other_cert]),
        &["certificate", "--ca-file"],
    );
    // Plain ws:// to the TLS port.
    failed(
        &sync(&stranger, &ws, &[]),
        &["the server may speak TLS: connect with wss://"],
    );
    assert!(ok(&["docs", &stranger]).contains("0 documents"));

    // The laptop still serves a peer that trusts it.
    let friend = replica(dir.path(), "friend", &[]);
    synced(&friend, &wss, &["--ca-file", &cert]);
    assert_eq!(ok(&["get", &friend, "cal", "title"]).trim(), "\"secret\"");
    server.stop();
}

#[test]
fn bad_certificate_files_stop_serve_before_it_listens() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate_files(dir.path(), "laptop");
    let (_, other_key) = certificate_files(dir.path(), "other");
    let laptop = replica(dir.path(), "laptop", &[]);
    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().unwrap();
    let serve = |cert: &str, key: &str| {
        exits(&[
            "serve",
            &laptop,
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert,
            "--tls-key",
            key,
        ])
    };
    let cases: [(&str, &str, &[&str]); 5] = [
        (
            missing,
            &key,
            &["TLS certificate file", missing, "check the path"],
        ),
        (&cert, missing, &["TLS key file", missing, "check the path"]),
        (
            &key,
            &key,
            &["BEGIN CERTIFICATE", "pass the certificate chain in PEM"],
        ),
        (&cert, &cert, &["no private key", "PKCS#8"]),
        (
            &cert,
            &other_key,
            &[
                "do not go together",
                "the private key the certificate was made for",
            ],
        ),
    ];
    for (cert, key, mentions) in cases {
        let out = serve(cert, key);
        failed(&out, mentions);
        assert!(out.stdout.is_empty(), "no URL printed: {out:?}");
    }

    // One without the other is a usage error that names the missing flag.
    let out = exits(&[
        "serve",
        &laptop,
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        &cert,
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));

    let help = ok(&["serve", "--help"]);
    for flag in [
        "--tls-cert",
        "--tls-key",
        "POLYARCH_TLS_CERT",
        "POLYARCH_TLS_KEY",
        "wss://",
    ] {
        assert!(help.contains(flag), "--help should mention {flag}: {help}");
    }
}

#[test]
fn net_serve_with_a_tls_identity_syncs_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed();
    let identity = TlsIdentity::from_pem(cert.as_bytes(), key.as_bytes()).expect("identity");
    runtime().block_on(async {
        let laptop = Device::open(&dir.path().join("laptop.db"));
        laptop.edit("cal", |tx| tx.register(["title"]).set("from the laptop"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("wss://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = ServeConfig {
            tls: Some(identity),
        };
        let serving = tokio::spawn(polyarch::net::serve(
            listener,
            Arc::clone(&laptop.repo),
            async {
                let _ = stopped.await;
            },
            config,
        ));

        let mut phone = Device::open(&dir.path().join("phone.db"));
        let mut trusting = client_config(&url, "");
        trusting.trusted_certs_pem = cert.clone().into_bytes();
        phone.connect_with(trusting);
        phone.edit("cal", |tx| tx.counter(["rsvp"]).increment(3));
        until("the phone gets the laptop's title", WAIT, || {
            phone.json("cal")["title"] == "from the laptop"
        })
        .await;
        until("the laptop gets the phone's counter", WAIT, || {
            laptop.json("cal")["rsvp"] == 3
        })
        .await;
        // A change made on the serving side while connected travels too.
        laptop.edit("cal", |tx| tx.register(["room"]).set("B"));
        until("the phone gets the laptop's live change", WAIT, || {
            phone.json("cal")["room"] == "B"
        })
        .await;
        assert_eq!(phone.json("cal"), laptop.json("cal"));

        // Without the certificate: refused, with the hint; plain ws://: told to use wss://.
        let mut stranger = Device::open(&dir.path().join("stranger.db"));
        stranger.connect_with(client_config(&url, ""));
        until("the stranger's certificate error", WAIT, || {
            stranger
                .client()
                .last_error()
                .is_some_and(|e| e.contains("UnknownIssuer") && e.contains("trusted_certs_pem"))
        })
        .await;
        assert_ne!(stranger.client().state(), ClientState::InSync);
        stranger.disconnect().await;
        let mut plain = Device::open(&dir.path().join("plain.db"));
        plain.connect_with(client_config(&url.replacen("wss://", "ws://", 1), ""));
        until("the plain ws:// error", WAIT, || {
            plain
                .client()
                .last_error()
                .is_some_and(|e| e.contains("connect with wss://"))
        })
        .await;
        plain.disconnect().await;
        assert_eq!(stranger.json("cal"), serde_json::Value::Null);
        assert_eq!(plain.json("cal"), serde_json::Value::Null);

        phone.disconnect().await;
        let _ = stop.send(());
        serving
            .await
            .expect("serve did not panic")
            .expect("serve stopped cleanly");
    });
}
