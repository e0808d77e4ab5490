//! Two devices edit the same calendar while offline, then sync: everything merges, and the one
//! edit that cannot merge (two new titles for one event) is surfaced as a conflict and resolved.
//!
//! Run with `cargo run --example offline_merge`.

use polyarch::sync::{Session, SessionConfig, run_until_quiet};
use polyarch::{Durability, Error, Repo, RepoConfig};

fn main() -> Result<(), Error> {
    let Ok(dir) = tempfile::tempdir() else {
        eprintln!("cannot make a temporary directory: set TMPDIR to a writable directory");
        std::process::exit(1);
    };
    let config = RepoConfig {
        durability: Durability::Immediate,
        ..RepoConfig::default()
    };
    let mut laptop = Repo::open(dir.path().join("laptop.db"), config.clone())?;
    let mut phone = Repo::open(dir.path().join("phone.db"), config)?;
    println!("laptop = device {}", laptop.device_id());
    println!("phone  = device {}\n", phone.device_id());

    laptop.change("calendar", |tx| {
        tx.register(["events", "e1", "title"])
            .set("Design review")?;
        tx.register(["events", "e1", "room"]).set("Turing")?;
        tx.set(["events", "e1", "attendees"]).add("ada")?;
        tx.text(["events", "e1", "notes"]).splice(0, 0, "Agenda: ")
    })?;
    sync(&mut laptop, &mut phone, "first sync")?;

    println!("-- both go offline and edit the same event --");
    laptop.change("calendar", |tx| {
        tx.register(["events", "e1", "title"])
            .set("Design review (v2)")?;
        tx.set(["events", "e1", "attendees"]).add("grace")?;
        tx.counter(["events", "e1", "rsvp_yes"]).increment(1)?;
        tx.text(["events", "e1", "notes"]).splice(8, 0, "API. ")
    })?;
    phone.change("calendar", |tx| {
        tx.register(["events", "e1", "title"])
            .set("Architecture review")?;
        tx.set(["events", "e1", "attendees"]).remove("ada")?;
        tx.set(["events", "e1", "attendees"]).add("alan")?;
        tx.counter(["events", "e1", "rsvp_yes"]).increment(2)?;
        tx.text(["events", "e1", "notes"]).splice(8, 0, "Storage. ")
    })?;
    let exchange = sync(&mut laptop, &mut phone, "back online")?;
    println!(
        "   ({} frames, {} bytes)\n",
        exchange.frames, exchange.bytes
    );

    let same = laptop.to_json("calendar")? == phone.to_json("calendar")?;
    println!("converged: {same}");
    let pretty = serde_json::to_string_pretty(&phone.to_json("calendar")?).unwrap_or_default();
    println!("{pretty}\n");

    let titles = phone.view("calendar", |d| {
        d.register(["events", "e1", "title"]).conflicts()
    })??;
    println!("title conflict, {} values kept: {titles:?}", titles.len());
    phone.change("calendar", |tx| {
        tx.register(["events", "e1", "title"])
            .set("Architecture review")
    })?;
    sync(&mut laptop, &mut phone, "resolution")?;
    let titles = laptop.view("calendar", |d| {
        d.register(["events", "e1", "title"]).conflicts()
    })??;
    println!("after resolving on the phone, the laptop sees: {titles:?}");
    Ok(())
}

fn sync(a: &mut Repo, b: &mut Repo, what: &str) -> Result<polyarch::sync::Exchange, Error> {
    let mut sa = Session::new(SessionConfig {
        peer_hint: Some(b.device_id()),
        ..SessionConfig::default()
    });
    let mut sb = Session::new(SessionConfig {
        peer_hint: Some(a.device_id()),
        ..SessionConfig::default()
    });
    let exchange = run_until_quiet(&mut sa, a, &mut sb, b)?;
    println!(
        "-- {what}: synced in {} round trips --",
        exchange.round_trips
    );
    Ok(exchange)
}
