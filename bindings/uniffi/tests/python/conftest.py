"""Shared helpers: syncing two replicas in-process, and a real relay process.

The relay binary comes from POLYARCH_RELAY (the xtask suite sets it to the workspace's
`polyarch-relay`); relay tests are skipped without it.
"""

import os
import pathlib
import subprocess

import pytest

import polyarch


def sync_in_process(a: "polyarch.Replica", b: "polyarch.Replica") -> int:
    """Runs two sessions until neither has anything to send; returns the frames exchanged."""
    sa, sb = polyarch.SyncSession(a, None), polyarch.SyncSession(b, None)
    to_b, to_a = sa.start(), sb.start()
    sent = 0
    for _ in range(50):
        if not to_a and not to_b:
            return sent
        sent += len(to_a) + len(to_b)
        next_to_a = [reply for f in to_b for reply in sb.receive(f)]
        to_b = [reply for f in to_a for reply in sa.receive(f)]
        to_a = next_to_a
    raise AssertionError("the sessions did not go quiet")


FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"


def start_relay(tmp_path: pathlib.Path, tls: bool):
    """Starts a relay process on a free port; returns (process, url, token)."""
    binary = os.environ.get("POLYARCH_RELAY")
    if not binary:
        pytest.skip("POLYARCH_RELAY is not set")
    secret = tmp_path / "secret"
    secret.write_text("a-test-secret-of-enough-length\n")
    token = subprocess.run(
        [binary, "token", "mint", "--secret-file", str(secret), "--docs", "",
         "--rights", "read-write", "--ttl", "1d"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    args = [binary, "serve", "--listen", "127.0.0.1:0", "--db", f"sqlite:{tmp_path / 'relay.db'}",
            "--secret-file", str(secret)]
    if tls:
        args += ["--tls-cert", str(FIXTURES / "relay-cert.pem"),
                 "--tls-key", str(FIXTURES / "relay-key.pem")]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("listening on "), line
    scheme = "wss" if tls else "ws"
    return proc, f"{scheme}://{line.split()[-1]}/sync", token


@pytest.fixture
def relay(tmp_path: pathlib.Path):
    """A relay process on a free port: yields (url, token); stopped afterwards."""
    proc, url, token = start_relay(tmp_path, tls=False)
    try:
        yield url, token
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def tls_relay(tmp_path: pathlib.Path):
    """A relay process serving TLS with the fixture certificate: yields (url, token, cert PEM)."""
    proc, url, token = start_relay(tmp_path, tls=True)
    try:
        yield url, token, (FIXTURES / "relay-cert.pem").read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
