//! The relay serves TLS: devices sync over `wss://` when they trust its certificate, in
//! process and as real processes (`polyarch-relay serve --tls-cert`, `polyarch sync
//! --ca-file`). A device that does not trust it, or speaks plain `ws://` to it, gets a clear
//! error and no data, and the relay keeps serving the others.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use polyarch::net::ClientState;
use polyarch::relay::{Rights, TlsIdentity};

use crate::cli_edit::{ok, polyarch};
use crate::relay_support::{
    Device, TestRelay, client_config, free_port, relay_command, runtime, self_signed,
    sqlite_config, token, until,
};

const WAIT: Duration = Duration::from_secs(20);

fn tls_relay(dir: &Path, cert: &str, key: &str) -> TestRelay {
    let mut config = sqlite_config(dir);
    config.tls = Some(TlsIdentity::from_pem(cert.as_bytes(), key.as_bytes()).expect("identity"));
    TestRelay::start_tls(config)
}

fn wss(addr: SocketAddr) -> String {
    format!("wss://{addr}/sync")
}

/// Connects `device` to `url`, trusting `pem`.
fn connect(device: &mut Device, url: &str, tok: &str, pem: &str) {
    let mut config = client_config(url, tok);
    config.trusted_certs_pem = pem.as_bytes().to_vec();
    device.connect_with(config);
}

/// Sets the title of `cal` on `device` and waits for the relay's receipt.
async fn set_title_stored_by_relay(device: &Device, title: &str) {
    let receipt = device
        .edit("cal", |tx| tx.register(["title"]).set(title))
        .receipt
        .expect("a change");
    tokio::time::timeout(WAIT, device.client().wait_stored_by_relay(&receipt))
        .await
        .expect("the relay acknowledged in time")
        .expect("stored by the relay");
}

#[test]
fn devices_sync_over_wss_when_they_trust_the_relay() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed();
    let relay = tls_relay(dir.path(), &cert, &key);
    let url = wss(relay.addr);
    let tok = token("", Rights::ReadWrite, 3600);
    runtime().block_on(async {
        let mut phone = Device::open(&dir.path().join("phone.db"));
        let mut laptop = Device::open(&dir.path().join("laptop.db"));
        connect(&mut phone, &url, &tok, &cert);
        connect(&mut laptop, &url, &tok, &cert);
        set_title_stored_by_relay(&phone, "over TLS").await;
        until("the laptop gets the change", WAIT, || {
            laptop.json("cal")["title"] == "over TLS"
        })
        .await;
        phone.disconnect().await;
        laptop.disconnect().await;
    });
    relay.stop().expect("a clean stop");
}

#[test]
fn a_device_that_does_not_trust_the_relay_or_speaks_plain_ws_gets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed();
    let relay = tls_relay(dir.path(), &cert, &key);
    let tok = token("", Rights::ReadWrite, 3600);
    let (other_cert, _) = self_signed();
    runtime().block_on(async {
        let mut writer = Device::open(&dir.path().join("writer.db"));
        connect(&mut writer, &wss(relay.addr), &tok, &cert);
        set_title_stored_by_relay(&writer, "secret").await;

        // Trusting only the public roots, or another self-signed certificate.
        for (name, pem) in [("untrusting", ""), ("wrong", other_cert.as_str())] {
            let mut d = Device::open(&dir.path().join(format!("{name}.db")));
            connect(&mut d, &wss(relay.addr), &tok, pem);
            until(&format!("{name}: a certificate error"), WAIT, || {
                d.client()
                    .last_error()
                    .is_some_and(|e| e.contains("certificate"))
            })
            .await;
            assert_ne!(d.client().state(), ClientState::InSync);
            assert_eq!(d.json("cal"), serde_json::Value::Null, "{name} got data");
            d.disconnect().await;
        }

        // Plain ws:// to a TLS port: a clear failure, not a hang.
        let mut plain = Device::open(&dir.path().join("plain.db"));
        plain.connect(&format!("ws://{}/sync", relay.addr), &tok);
        until("plain ws:// fails", WAIT, || {
            plain.client().last_error().is_some()
        })
        .await;
        assert_eq!(plain.json("cal"), serde_json::Value::Null);
        plain.disconnect().await;

        // Clients that connect and never start their handshake do not hold up anyone else.
        let silent: Vec<_> = (0..20)
            .map(|_| std::net::TcpStream::connect(relay.addr).expect("a TCP connection"))
            .collect();
        // The relay still serves a trusting device.
        let mut late = Device::open(&dir.path().join("late.db"));
        connect(&mut late, &wss(relay.addr), &tok, &cert);
        until("a trusting device still syncs", WAIT, || {
            late.json("cal")["title"] == "secret"
        })
        .await;
        late.disconnect().await;
        drop(silent);
        writer.disconnect().await;
    });
    relay.stop().expect("a clean stop");
}

/// A `polyarch-relay` process serving TLS; killed when dropped.
struct TlsRelayProcess {
    child: Child,
    addr: SocketAddr,
}

impl Drop for TlsRelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TlsRelayProcess {
    fn start(dir: &Path, cert: &Path, key: &Path) -> Self {
        let port = free_port();
        let child = relay_command(&dir.join("relay.db"), port, &dir.join("relay.log"))
            .arg("--tls-cert")
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .spawn()
            .expect("start polyarch-relay");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the relay never listened"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, addr }
    }
}

#[test]
fn command_line_devices_sync_through_a_tls_relay_process() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, &cert).unwrap();
    std::fs::write(&key_file, &key).unwrap();
    let relay = TlsRelayProcess::start(dir.path(), &cert_file, &key_file);
    let url = wss(relay.addr);
    let tok = token("", Rights::ReadWrite, 3600);
    let files: Vec<String> = ["a", "b"]
        .iter()
        .map(|n| dir.path().join(format!("{n}.db")).display().to_string())
        .collect();
    for f in &files {
        ok(&["init", f]);
    }
    ok(&["set", &files[0], "cal", "title", "from the shell"]);
    let ca = cert_file.to_str().unwrap();
    for f in &files {
        let args = [
            "sync",
            f,
            &url,
            "--token",
            &tok,
            "--ca-file",
            ca,
            "--timeout",
            "60",
        ];
        ok(&args);
    }
    assert_eq!(
        ok(&["get", &files[1], "cal", "title"]).trim(),
        "\"from the shell\""
    );

    // Without --ca-file the self-signed relay is not trusted: a failure that says why.
    let out = polyarch(&["sync", &files[1], &url, "--token", &tok, "--timeout", "20"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("certificate") && err.contains("--ca-file"),
        "{err}"
    );
}
