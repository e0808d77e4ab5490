//! Sync benchmarks (what goes on the wire):
//!
//! - B4 `sync_divergence`: two replicas share the first half of the automerge-paper trace in
//!   100-keystroke changes; then A applies the second half (100 keystrokes per change) while B
//!   makes 50 one-character inserts; then they sync. Polyarch must need one round trip
//!   (`sync_divergence_round_trips`) and at most the bytes of automerge's own sync protocol
//!   (`sync_divergence`) on the same scenario, in the same run.
//! - B5 `many_docs`: two replicas share 10,000 small documents; A edits 100 of them offline; on
//!   reconnect the bytes exchanged must be at most 2x the raw bytes of those 100 changes plus
//!   [`MANY_DOCS_SLACK`]. Context: automerge's sync protocol run document by document.
//!
//! The automerge baseline remembers its sync states across the disconnect (`State::encode` /
//! `decode`, as a replica that persists them would): the stricter bar. Fresh states are shown
//! too, in `details`.
//!
//! Run: `cargo bench --bench sync`; `POLYARCH_BENCH_QUICK=1` for a smoke run.

#[allow(dead_code)] // shared by every bench binary; each uses part of it
mod support;

use automerge::sync::State;
use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ROOT, ReadDoc};
use serde_json::json;

use support::baseline::{self, Turns, apply_change, persisted, sync_pair};
use support::report::{Report, Target};
use support::scenario::{self, Divergence, ManyDocs, SyncOutcome};
use support::{ours, scratch_dir};

/// The "small constant" of B5: room for a handshake (epochs, cursors, framing).
const MANY_DOCS_SLACK: f64 = 1024.0;

fn main() {
    if support::selected("sync_divergence") || support::selected("sync_divergence_round_trips") {
        let trace = support::paper_trace();
        sync_divergence(&scenario::divergence(&trace));
    }
    if support::selected("many_docs") {
        let (docs, edits) = if support::quick() {
            (1_000, 100)
        } else {
            (10_000, 100)
        };
        many_docs(&scenario::many_docs(docs, edits));
    }
}

/// B4.
fn sync_divergence(s: &Divergence) {
    eprintln!(
        "B4 sync_divergence: {} shared changes, A {} changes, B {} changes",
        s.shared.len(),
        s.a_changes.len(),
        s.b_changes.len()
    );
    let variants = automerge_divergence(s);
    let dir = scratch_dir();
    let mine = ours::sync_divergence(s, dir.path());
    let all = variants.iter().map(|(label, o)| (*label, o));
    for (side, o) in all.chain(mine.as_ref().map(|o| ("ours", o))) {
        assert!(
            o.texts.len() == 2 && o.texts[0] == o.texts[1],
            "B4: {side}: replicas differ after sync"
        );
        assert_eq!(
            o.texts[0].chars().count(),
            s.merged_chars,
            "B4: {side}: wrong merged length"
        );
    }
    // The bar is automerge at its best: the variant with the fewest bytes (and, for round
    // trips, the fewest round trips).
    let (label, best) = variants
        .iter()
        .min_by_key(|(_, o)| o.bytes)
        .expect("variants were run");
    let fewest_trips = variants.iter().map(|(_, o)| o.round_trips).min();
    let table: serde_json::Map<String, serde_json::Value> = variants
        .iter()
        .map(|(label, o)| {
            let v =
                json!({ "bytes": o.bytes, "messages": o.messages, "round_trips": o.round_trips });
            ((*label).to_owned(), v)
        })
        .collect();
    Report::new(
        "sync_divergence",
        "bytes",
        mine.as_ref().map(|o| o.bytes as f64),
        best.bytes as f64,
        Target::Ratio(1.0),
    )
    .detail("baseline_variant", *label)
    .detail("baseline_variants", table.clone())
    .detail("ours_messages", mine.as_ref().map(|o| o.messages))
    .detail(
        "baseline_what",
        "automerge 0.12 sync protocol; the variant with the fewest bytes",
    )
    .write();
    Report::new(
        "sync_divergence_round_trips",
        "round trips",
        mine.as_ref().map(|o| o.round_trips as f64),
        fewest_trips.expect("variants were run") as f64,
        Target::AtMost(1.0),
    )
    .detail("baseline_variants", table)
    .detail(
        "counting",
        "legs (flights that may go both ways at once) / 2, rounded up",
    )
    .write();
}

/// The automerge side of B4, in each variant: sync states remembered across the disconnect
/// (`State::encode`/`decode`) or fresh, and both sides sending at once or strictly in turn.
fn automerge_divergence(s: &Divergence) -> Vec<(&'static str, SyncOutcome)> {
    let (mut a, text) = baseline::new_text_doc(&s.start);
    for change in &s.shared {
        apply_change(&mut a, &text, change);
    }
    // B receives the shared history through the sync protocol (not counted); both keep their
    // sync states as a replica that persists them would.
    let mut b = Automerge::new_with_encoding(automerge::TextEncoding::UnicodeCodePoint);
    let (mut sa, mut sb) = (State::new(), State::new());
    sync_pair(&mut a, &mut sa, &mut b, &mut sb, Turns::Together);

    for change in &s.a_changes {
        apply_change(&mut a, &text, change);
    }
    let b_text = baseline::text_obj(&b);
    for patch in &s.b_changes {
        apply_change(&mut b, &b_text, std::slice::from_ref(patch));
    }

    [
        ("remembered_states_together", true, Turns::Together),
        ("remembered_states_ping_pong", true, Turns::PingPong),
        ("fresh_states_together", false, Turns::Together),
        ("fresh_states_ping_pong", false, Turns::PingPong),
    ]
    .into_iter()
    .map(|(label, remember, turns)| {
        let (mut a, mut b) = (a.clone(), b.clone());
        let (mut sa, mut sb) = if remember {
            (persisted(&sa), persisted(&sb))
        } else {
            (State::new(), State::new())
        };
        let mut o = sync_pair(&mut a, &mut sa, &mut b, &mut sb, turns);
        o.texts = vec![baseline::text_of(&a), baseline::text_of(&b)];
        (label, o)
    })
    .collect()
}

/// B5.
fn many_docs(s: &ManyDocs) {
    eprintln!(
        "B5 many_docs: {} documents, {} edited offline",
        s.docs.len(),
        s.edits.len()
    );
    let (change_bytes, per_doc_sync) = automerge_many_docs(s);
    let dir = scratch_dir();
    let mine = ours::many_docs(s, dir.path());
    let target = 2.0 + MANY_DOCS_SLACK / change_bytes as f64;
    Report::new("many_docs", "bytes", mine.as_ref().map(|o| o.bytes as f64), change_bytes as f64, Target::Ratio(target))
        .detail("documents", s.docs.len())
        .detail("edited", s.edits.len())
        .detail("target_formula", format!("ours <= 2 x baseline + {MANY_DOCS_SLACK} bytes"))
        .detail("baseline_what", "sum of automerge 0.12 Change::raw_bytes of the offline changes")
        .detail("ours_messages", mine.as_ref().map(|o| o.messages))
        .detail("ours_round_trips", mine.as_ref().map(|o| o.round_trips))
        .detail(
            "context_automerge_sync_per_document",
            json!({
                "what": "automerge sync messages only (no document ids or framing), every document, states remembered",
                "bytes": per_doc_sync.bytes,
                "messages": per_doc_sync.messages,
            }),
        )
        .write();
}

/// The automerge side of B5: (raw bytes of the offline changes, cost of automerge's own sync run
/// over every document with remembered sync states).
fn automerge_many_docs(s: &ManyDocs) -> (u64, SyncOutcome) {
    // Every document is created on A, synced to B, and both keep their sync state.
    // One actor per device, as a replica would have.
    let (actor_a, actor_b) = (ActorId::random(), ActorId::random());
    let mut pairs: Vec<(Automerge, State, Automerge, State)> = s
        .docs
        .iter()
        .map(|event| {
            let mut a = Automerge::new().with_actor(actor_a.clone());
            let mut tx = a.transaction();
            tx.put(ROOT, "title", event.title.as_str())
                .expect("put title");
            tx.put(ROOT, "start", event.start).expect("put start");
            tx.put(ROOT, "minutes", event.minutes).expect("put minutes");
            tx.commit();
            let mut b = Automerge::new().with_actor(actor_b.clone());
            let (mut sa, mut sb) = (State::new(), State::new());
            sync_pair(&mut a, &mut sa, &mut b, &mut sb, Turns::Together);
            (a, persisted(&sa), b, persisted(&sb))
        })
        .collect();

    let mut change_bytes = 0;
    for (index, title) in &s.edits {
        let a = &mut pairs[*index].0;
        let mut tx = a.transaction();
        tx.put(ROOT, "title", title.as_str()).expect("put title");
        tx.commit();
        let change = a.get_last_local_change().expect("the edit made a change");
        change_bytes += change.raw_bytes().len() as u64;
    }

    let mut total = SyncOutcome::default();
    for (a, sa, b, sb) in &mut pairs {
        let o = sync_pair(a, sa, b, sb, Turns::Together);
        total.bytes += o.bytes;
        total.messages += o.messages;
        total.round_trips = total.round_trips.max(o.round_trips);
    }
    for (index, title) in &s.edits {
        let b = &pairs[*index].2;
        let got = b
            .get(ROOT, "title")
            .expect("read title")
            .map(|(v, _)| v.to_string());
        assert!(
            got.is_some_and(|t| t.contains(title.as_str())),
            "B5: baseline B lacks an edit"
        );
    }
    (change_bytes, total)
}
