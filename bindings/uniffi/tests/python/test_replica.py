"""Polyarch through its UniFFI binding, from Python: replicas in files edit offline, sync in
process and through a real relay, converge, show conflicts, call listeners, and raise Python
exceptions for bad input."""

import json
import threading

import pytest

import polyarch
from conftest import sync_in_process


def s(text):
    return polyarch.Value.STR(text)


@pytest.fixture
def two_files(tmp_path):
    return polyarch.Replica.open(str(tmp_path / "laptop.db")), polyarch.Replica.open(
        str(tmp_path / "phone.db"))


def edit_offline(laptop, phone):
    laptop.register("cal", ["e1", "title"]).set(s("Standup"))
    laptop.or_set("cal", ["e1", "guests"]).add("ada")
    laptop.counter("cal", ["e1", "rsvp"]).increment(2)
    laptop.text("notes", ["body"]).update("hello")
    phone.register("cal", ["e1", "title"]).set(s("Daily"))
    phone.or_set("cal", ["e1", "guests"]).add("grace")
    phone.counter("cal", ["e1", "rsvp"]).increment(3)
    phone.list("cal", ["e1", "agenda"]).push(s("review"))


def test_two_files_edit_offline_sync_in_process_and_converge(two_files):
    laptop, phone = two_files
    edit_offline(laptop, phone)
    assert sync_in_process(laptop, phone) > 0
    for doc in ("cal", "notes"):
        assert json.loads(laptop.to_json(doc)) == json.loads(phone.to_json(doc))
    assert phone.or_set("cal", ["e1", "guests"]).members() == ["ada", "grace"]
    assert laptop.counter("cal", ["e1", "rsvp"]).value() == 5
    assert phone.text("notes", ["body"]).value() == "hello"
    assert laptop.list("cal", ["e1", "agenda"]).values() == [s("review")]
    assert laptop.doc_ids() == ["cal", "notes"]


def test_edits_survive_reopening_the_file(tmp_path):
    path = str(tmp_path / "r.db")
    r = polyarch.Replica.open(path)
    receipt = r.counter("c", ["n"]).increment(7)
    assert r.receipt_status(receipt).on_disk
    del r
    assert polyarch.Replica.open(path).counter("c", ["n"]).value() == 7


def test_a_concurrent_register_edit_is_a_visible_and_resolvable_conflict(two_files):
    laptop, phone = two_files
    edit_offline(laptop, phone)
    sync_in_process(laptop, phone)
    title = phone.register("cal", ["e1", "title"])
    assert sorted(v.value for v in title.conflicts()) == ["Daily", "Standup"]
    assert title.get() == title.conflicts()[0]
    # Every conflict of the document in one call: the same register, the same values.
    assert phone.conflicts("cal") == [polyarch.Conflict(path=["e1", "title"], values=title.conflicts())]
    title.set(s("Design review"))
    sync_in_process(laptop, phone)
    assert laptop.register("cal", ["e1", "title"]).conflicts() == [s("Design review")]
    assert laptop.conflicts("cal") == []


def test_map_keys_and_text_splices(two_files):
    laptop, _ = two_files
    laptop.register("cal", ["events", "a"]).set(polyarch.Value.INT(1))
    laptop.register("cal", ["events", "b"]).set(polyarch.Value.BOOL(True))
    events = laptop.map("cal", ["events"])
    assert events.keys() == ["a", "b"]
    events.delete("a")
    assert events.keys() == ["b"] and not events.contains_key("a")
    text = laptop.text("notes", ["body"])
    text.update("hello world")
    text.splice(0, 5, "HELLO")
    assert text.value() == "HELLO world"


def test_a_subscription_fires_for_local_and_remote_changes(two_files):
    laptop, phone = two_files
    seen, got_remote = [], threading.Event()

    class Listener(polyarch.DocListener):
        def on_change(self, change):
            seen.append((change.doc, change.peer, threading.current_thread().name))
            if change.peer is not None:
                got_remote.set()

    sub = laptop.subscribe("cal", Listener())
    laptop.counter("cal", ["n"]).increment(1)
    phone.counter("cal", ["n"]).increment(1)
    sync_in_process(laptop, phone)
    assert got_remote.wait(5), seen
    assert seen[0][:2] == ("cal", None)
    assert any(peer == phone.device_id() for _, peer, _ in seen)
    assert all(name != threading.current_thread().name for _, _, name in seen)
    assert sub.cancel() and not sub.cancel()


def test_calls_from_several_threads_do_not_corrupt_the_replica(tmp_path):
    r = polyarch.Replica.open(str(tmp_path / "r.db"))
    counter = r.counter("c", ["n"])

    def work():
        for _ in range(50):
            counter.increment(1)
            r.to_json("c")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter.value() == 200


def test_bad_input_raises_a_python_exception(tmp_path):
    r = polyarch.Replica.in_memory()
    with pytest.raises(polyarch.PolyarchError.Failed) as e:
        polyarch.SyncSession(r, None).receive(b"\xde\xad\xbe\xef")
    assert e.value.code.startswith("SYNC_")
    with pytest.raises(polyarch.PolyarchError) as e:
        r.to_json("missing")
    assert e.value.code == "NO_SUCH_DOC"
    r.register("cal", ["x"]).set(s("a register"))
    with pytest.raises(polyarch.PolyarchError) as e:
        r.counter("cal", ["x"]).increment(1)
    assert e.value.code == "MODEL_TYPE_MISMATCH", e.value
    with pytest.raises(polyarch.PolyarchError) as e:
        polyarch.Replica.from_image(b"not a replica", None)
    assert e.value.code == "STORE_NOT_AN_IMAGE"
    not_a_store = tmp_path / "x.db"
    not_a_store.write_bytes(b"x" * 4096)
    with pytest.raises(polyarch.PolyarchError) as e:
        polyarch.Replica.open(str(not_a_store))
    assert e.value.code == "STORE_NOT_A_STORE"


def test_an_image_opens_as_a_new_device(tmp_path):
    r = polyarch.Replica.open(str(tmp_path / "a.db"))
    r.or_set("cal", ["guests"]).add("ada")
    copy = polyarch.Replica.from_image(r.export_image(), str(tmp_path / "copy.db"))
    assert copy.to_json("cal") == r.to_json("cal")
    assert copy.device_id() != r.device_id()


def test_two_replicas_converge_through_a_real_relay(two_files, relay):
    url, token = relay
    laptop, phone = two_files
    edit_offline(laptop, phone)
    a = polyarch.RelayClient.connect(laptop, url, token)
    assert a.wait_until_in_sync(10_000), a.last_error()
    b = polyarch.RelayClient.connect(phone, url, token)
    assert b.wait_until_in_sync(10_000), b.last_error()
    receipt = laptop.counter("cal", ["e1", "rsvp"]).increment(10)
    assert laptop.receipt_status(receipt).on_disk
    assert a.wait_stored_by_relay(receipt, 10_000)
    relay_id = laptop.receipt_status(receipt).acked_by
    assert relay_id, "the relay acknowledged the change"
    for _ in range(500):
        if phone.counter("cal", ["e1", "rsvp"]).value() == 15:
            break
        threading.Event().wait(0.02)
    assert json.loads(laptop.to_json("cal")) == json.loads(phone.to_json("cal"))
    assert phone.counter("cal", ["e1", "rsvp"]).value() == 15
    assert a.state() == polyarch.ConnectionState.IN_SYNC
    a.disconnect()
    b.disconnect()
    with pytest.raises(polyarch.PolyarchError) as e:
        a.state()
    assert e.value.code == "CLOSED"


def test_a_relay_with_a_private_certificate_is_reached_over_wss(two_files, tls_relay):
    url, token, cert = tls_relay
    laptop, phone = two_files
    laptop.register("cal", ["title"]).set(s("over TLS"))
    a = polyarch.RelayClient.connect_trusting(laptop, url, token, cert)
    assert a.wait_until_in_sync(10_000), a.last_error()
    # Without trusting the certificate: an error that says what to do, and no data.
    b = polyarch.RelayClient.connect(phone, url, token)
    assert not b.wait_until_in_sync(1_000)
    assert "certificate" in (b.last_error() or ""), b.last_error()
    assert "cal" not in phone.doc_ids()
    b.disconnect()
    b = polyarch.RelayClient.connect_trusting(phone, url, token, cert)
    assert b.wait_until_in_sync(10_000), b.last_error()
    assert json.loads(phone.to_json("cal")) == json.loads(laptop.to_json("cal"))
    a.disconnect()
    b.disconnect()


def test_a_bad_token_is_reported_not_raised(two_files, relay):
    url, _ = relay
    laptop, _ = two_files
    client = polyarch.RelayClient.connect(laptop, url, "not-a-token")
    assert not client.wait_until_in_sync(1_000)
    assert client.state() != polyarch.ConnectionState.IN_SYNC
    client.disconnect()
