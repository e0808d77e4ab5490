//! Delayed acknowledgements (`SessionConfig::ack_delay`): a session that receives a stretch of
//! the peer's log does not answer it alone at once. The acknowledgement, and the stretch of its
//! own log holding only what it just received, wait for a frame of its own (its next change) to
//! travel with, or go on their own once due. Either way the peer learns exactly how far its log
//! is held, and the stream stays contiguous (no resend is asked for).

use std::time::Duration;

use polyarch::sync::{
    Message, Session, SessionConfig, SessionEvent, Stretch, run_until_quiet, wire,
};
use polyarch::{Repo, RepoConfig};

fn decode(frames: &[Vec<u8>]) -> Vec<Message> {
    frames
        .iter()
        .map(|f| wire::decode(f, &Default::default()).expect("a valid frame"))
        .collect()
}

/// The number of changes and the end of the stretch in `frames`' first, and the offset the
/// second acknowledges: the only shape expected when something waited.
fn stretch_then_ack(frames: &[Vec<u8>]) -> (usize, u64, u64) {
    match decode(frames).as_slice() {
        [
            Message::Changes {
                changes,
                stretch: Some(Stretch { to, .. }),
            },
            Message::Ack { upto },
        ] => (changes.len(), *to, *upto),
        other => panic!("expected a stretch and an acknowledgement, together: {other:?}"),
    }
}

fn head(repo: &mut Repo) -> u64 {
    repo.status().expect("status").log_head
}

fn type_into(repo: &mut Repo, key: &str) {
    repo.change("doc", |tx| tx.counter(key).increment(1))
        .expect("a change");
}

/// `hub` acknowledges at once (as a relay does); `device` waits up to `delay`. Returns both
/// replicas and sessions, connected and quiet.
fn connected(delay: Duration) -> (Repo, Session, Repo, Session) {
    let mut hub = Repo::in_memory(RepoConfig::default()).expect("hub");
    let mut device = Repo::in_memory(RepoConfig::default()).expect("device");
    type_into(&mut hub, "hub");
    type_into(&mut device, "device");
    let mut sh = Session::new(SessionConfig::default());
    let mut sd = Session::new(SessionConfig {
        ack_delay: delay,
        ..SessionConfig::default()
    });
    run_until_quiet(&mut sh, &mut hub, &mut sd, &mut device).expect("first sync");
    if delay < Duration::from_secs(1) {
        // What the first exchange left waiting goes once due.
        std::thread::sleep(delay);
        let rest = sd.poll(&mut device).expect("poll");
        for f in rest {
            assert!(sh.receive(&mut hub, &f).expect("receive").is_empty());
        }
        assert_eq!(sh.acked(), head(&mut hub), "the hub's log is acknowledged");
        assert_eq!(sd.due_ms(), None);
    }
    sh.take_events();
    (hub, sh, device, sd)
}

/// The hub types; its frame reaches the device, which answers nothing yet.
fn hub_types(hub: &mut Repo, sh: &mut Session, device: &mut Repo, sd: &mut Session) {
    type_into(hub, "hub");
    let frames = sh.poll(hub).expect("poll");
    assert_eq!(frames.len(), 1, "one frame with the change");
    for f in frames {
        let answer = sd.receive(device, &f).expect("receive");
        assert!(
            answer.is_empty(),
            "nothing is sent back at once: {:?}",
            decode(&answer)
        );
    }
    assert!(sd.due_ms().is_some(), "an acknowledgement waits");
}

#[test]
fn an_acknowledgement_travels_with_the_next_change_of_ours() {
    let (mut hub, mut sh, mut device, mut sd) = connected(Duration::from_secs(3600));
    hub_types(&mut hub, &mut sh, &mut device, &mut sd);
    hub_types(&mut hub, &mut sh, &mut device, &mut sd);

    let before = head(&mut device);
    type_into(&mut device, "device");
    let frames = sd.poll(&mut device).expect("poll");
    let hub_head = head(&mut hub);
    let (changes, to, upto) = stretch_then_ack(&frames);
    assert_eq!(changes, 1, "the device's own change");
    assert_eq!(
        to,
        before + 1,
        "the stretch covers what the device received too"
    );
    assert_eq!(
        upto, hub_head,
        "one acknowledgement for both of the hub's frames"
    );
    assert_eq!(sd.due_ms(), None, "nothing waits any more");
    for f in frames {
        let answer = sh.receive(&mut hub, &f).expect("receive");
        assert!(
            !decode(&answer)
                .iter()
                .any(|m| matches!(m, Message::Resume(_))),
            "the stream stayed contiguous"
        );
    }
    // The hub logged the device's change too: the device holds the rest of its log, so the
    // acknowledgement (and the hub's stretch holding only that change) covers all of it.
    let hub_head = head(&mut hub);
    assert_eq!(sh.acked(), hub_head);
    assert_eq!(sh.take_events(), [SessionEvent::Acked { upto: hub_head }]);
    run_until_quiet(&mut sh, &mut hub, &mut sd, &mut device).expect("sync");
    assert_eq!(hub.to_json("doc").unwrap(), device.to_json("doc").unwrap());
}

#[test]
fn an_acknowledgement_with_nothing_to_travel_with_goes_when_due() {
    let delay = Duration::from_millis(20);
    let (mut hub, mut sh, mut device, mut sd) = connected(delay);
    hub_types(&mut hub, &mut sh, &mut device, &mut sd);

    std::thread::sleep(delay);
    let frames = sd.poll(&mut device).expect("poll");
    let (hub_head, device_head) = (head(&mut hub), head(&mut device));
    let (changes, to, upto) = stretch_then_ack(&frames);
    assert_eq!(changes, 0, "nothing of the device's own");
    assert_eq!(to, device_head, "the device's log is streamed to its head");
    assert_eq!(upto, hub_head);
    assert_eq!(sd.due_ms(), None);
    for f in frames {
        assert!(sh.receive(&mut hub, &f).expect("receive").is_empty());
    }
    assert_eq!(sh.acked(), hub_head);
}

#[test]
fn without_a_delay_every_stretch_is_acknowledged_at_once() {
    let (mut hub, mut sh, mut device, mut sd) = connected(Duration::ZERO);
    type_into(&mut hub, "hub");
    let mut answer = Vec::new();
    for f in sh.poll(&mut hub).expect("poll") {
        answer.extend(sd.receive(&mut device, &f).expect("receive"));
    }
    assert!(
        decode(&answer)
            .iter()
            .any(|m| matches!(m, Message::Ack { upto } if *upto == head(&mut hub)))
    );
    assert_eq!(sd.due_ms(), None);
}
