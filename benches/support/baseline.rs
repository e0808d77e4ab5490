//! The baseline side: raw `automerge` 0.12, used exactly as the issue describes.

use automerge::sync::{Message, State, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{Automerge, ObjId, ObjType, ROOT, ReadDoc, TextEncoding, Value};

use super::scenario::SyncOutcome;
use super::timing::{Timed, time};
use super::trace::{Patch, Trace};

/// Map key of the text object in the root of every trace document.
pub const TEXT_KEY: &str = "text";

/// A new document whose root holds `start` in a text object at [`TEXT_KEY`] (one change).
/// Positions count Unicode code points, the traces' unit.
pub fn new_text_doc(start: &str) -> (Automerge, ObjId) {
    let mut doc = Automerge::new_with_encoding(TextEncoding::UnicodeCodePoint);
    let mut tx = doc.transaction();
    let text = tx
        .put_object(ROOT, TEXT_KEY, ObjType::Text)
        .expect("put the text object");
    if !start.is_empty() {
        tx.splice_text(&text, 0, 0, start)
            .expect("insert the start text");
    }
    tx.commit();
    (doc, text)
}

/// Apply `patches` to `text` in one transaction (one change, if anything changed).
pub fn apply_change(doc: &mut Automerge, text: &ObjId, patches: &[Patch]) {
    let mut tx = doc.transaction();
    for p in patches {
        let del = isize::try_from(p.del).expect("delete count fits isize");
        tx.splice_text(text, p.pos, del, &p.ins)
            .expect("trace patch is in range");
    }
    tx.commit();
}

/// The text object at [`TEXT_KEY`].
pub fn text_obj(doc: &Automerge) -> ObjId {
    match doc.get(ROOT, TEXT_KEY).expect("read the root map") {
        Some((Value::Object(ObjType::Text), id)) => id,
        other => panic!("document has no text object at {TEXT_KEY:?}: {other:?}"),
    }
}

/// The whole text of a trace document.
pub fn text_of(doc: &Automerge) -> String {
    doc.text(text_obj(doc)).expect("read the text")
}

/// B1 baseline: every keystroke as its own transaction and commit, no persistence. Only the
/// keystrokes are timed (not creating the document, not reading the text back).
pub fn apply_trace(trace: &Trace) -> (Timed<()>, Automerge) {
    let (mut doc, text) = new_text_doc(&trace.start);
    let timed = time(|| {
        for txn in &trace.txns {
            apply_change(&mut doc, &text, txn);
        }
    });
    (timed, doc)
}

/// B2 baseline: `Automerge::load` of a compact save and reading the text (timed); dropping the
/// document happens after the clock stops.
pub fn load_and_read(save: &[u8]) -> Timed<String> {
    let t = time(|| {
        let doc = Automerge::load(save).expect("load our own save");
        let text = text_of(&doc);
        (doc, text)
    });
    let Timed {
        elapsed,
        cpu,
        value: (doc, text),
    } = t;
    drop(doc);
    Timed {
        elapsed,
        cpu,
        value: text,
    }
}

/// How the two sides of an automerge sync take turns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Turns {
    /// Both sides send whatever they have at once, then each answers what it received, as
    /// `polyarch::sync::run_until_quiet` does: one leg carries everything in flight both ways.
    Together,
    /// Strictly one message at a time, A first: each leg is one message.
    PingPong,
}

/// Run automerge's sync protocol between `a` and `b` until neither has anything to send, each
/// message encoded and decoded as on the wire.
///
/// Counts bytes and messages both ways and legs (sequential flights); round trips are the legs
/// halved, rounded up. `texts` is left empty.
pub fn sync_pair(
    a: &mut Automerge,
    sa: &mut State,
    b: &mut Automerge,
    sb: &mut State,
    turns: Turns,
) -> SyncOutcome {
    let mut out = SyncOutcome::default();
    let mut legs = 0u64;
    let mut a_turn = true;
    loop {
        let (to_b, to_a) = match turns {
            Turns::Together => (a.generate_sync_message(sa), b.generate_sync_message(sb)),
            Turns::PingPong if a_turn => match a.generate_sync_message(sa) {
                None => (None, b.generate_sync_message(sb)),
                m => (m, None),
            },
            Turns::PingPong => match b.generate_sync_message(sb) {
                None => (a.generate_sync_message(sa), None),
                m => (None, m),
            },
        };
        if to_b.is_none() && to_a.is_none() {
            break;
        }
        legs += 1;
        a_turn = to_a.is_some();
        for (msg, to, state) in [(to_b, &mut *b, &mut *sb), (to_a, &mut *a, &mut *sa)] {
            if let Some(msg) = msg {
                let wire = msg.encode();
                out.bytes += wire.len() as u64;
                out.messages += 1;
                let msg = Message::decode(&wire).expect("decode our own sync message");
                to.receive_sync_message(state, msg)
                    .expect("receive a valid sync message");
            }
        }
        assert!(legs < 10_000, "automerge sync did not settle");
    }
    out.round_trips = legs.div_ceil(2);
    out
}

/// A sync state as it comes back after being persisted (`State::encode` keeps the shared heads).
pub fn persisted(state: &State) -> State {
    State::decode(&state.encode()).expect("decode our own sync state")
}
