//! `polyarch`: inspects, edits and syncs a replica file.
//!
//! ```text
//! polyarch init <file>                          creates an empty replica
//! polyarch docs <file>                          documents and how many changes each holds
//! polyarch dump <file> <doc>                    a document as pretty JSON
//! polyarch get <file> <doc> [path]              one value; a register prints every concurrent value
//! polyarch set <file> <doc> <path> <value>      sets a register (--json: the value is a JSON scalar)
//! polyarch add|remove <file> <doc> <path> <m>   adds a member to a set / removes it
//! polyarch incr <file> <doc> <path> <n>         adds n (may be negative) to a counter
//! polyarch append <file> <doc> <path> <string>  appends to a collaborative text
//! polyarch status <file> [--json]               replication status, like Redis `INFO replication`
//! polyarch doc-status <file> <doc>              one document: version, token, log and snapshot sizes
//! polyarch compact <file> [doc]                 compacts one document's history, or every document's
//! polyarch serve <file> --listen <addr> [--tls-cert pem --tls-key pem] [--relay url]
//!                                               lets peers sync with this replica (ws:// or wss://)
//! polyarch sync <file> <url> [--token t] [--follow]  syncs with a relay or a peer
//! ```
//!
//! A path is map keys separated by `/` (`events/e1/title`); missing maps are created. Only
//! `init` creates a store. A replica that another process has open (an application, or
//! `polyarch serve`) cannot be used at the same time: the store is locked by one process.
//! Errors print one line on stderr and exit with status 1 (a bad command line: usage, status 2).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use polyarch::{DocId, PeerStatus, Repo, RepoConfig};

#[path = "polyarch/edit.rs"]
mod edit;
#[path = "polyarch/net.rs"]
mod net;

/// Inspects, edits and syncs a Polyarch replica file.
///
/// Paths are map keys separated by `/` (`events/e1/title`). Documents are created by their
/// first edit; only `init` creates a replica file.
#[derive(Debug, Parser)]
#[command(name = "polyarch", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates an empty replica file (fails if the file exists).
    Init {
        /// The replica's SQLite file to create.
        file: PathBuf,
    },
    /// Lists the documents, with how many changes each holds.
    Docs {
        /// The replica's SQLite file.
        file: PathBuf,
    },
    /// Prints a document as pretty JSON.
    Dump {
        /// The replica's SQLite file.
        file: PathBuf,
        /// The document id.
        doc: String,
    },
    /// Shows where the replica stands: device, epoch, log head, and each peer's lag.
    Status {
        /// The replica's SQLite file.
        file: PathBuf,
        /// Print JSON instead of `key:value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Shows one document: what it holds per writer, its version token, log and snapshot sizes.
    DocStatus {
        /// The replica's SQLite file.
        file: PathBuf,
        /// The document id.
        doc: String,
        /// Print JSON instead of `key:value` lines.
        #[arg(long)]
        json: bool,
    },
    /// Replaces logged changes with a compact snapshot (one document, or all of them).
    Compact {
        /// The replica's SQLite file.
        file: PathBuf,
        /// The document id (every document when omitted).
        doc: Option<String>,
    },
    #[command(flatten)]
    Edit(edit::EditCommand),
    #[command(flatten)]
    Net(net::NetCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("polyarch: error: {}", one_line(&message));
            ExitCode::FAILURE
        }
    }
}

type CliResult<T> = Result<T, String>;

fn run(command: Command) -> CliResult<()> {
    match command {
        Command::Init { file } => init(&file),
        Command::Docs { file } => docs(&file),
        Command::Dump { file, doc } => dump(&file, &doc),
        Command::Status { file, json } => status(&file, json),
        Command::DocStatus { file, doc, json } => doc_status(&file, &doc, json),
        Command::Compact { file, doc } => compact(&file, doc.as_deref()),
        Command::Edit(command) => edit::run(command),
        Command::Net(command) => net::run(command),
    }
}

fn init(file: &Path) -> CliResult<()> {
    if std::fs::symlink_metadata(file).is_ok() {
        return Err(format!(
            "{} already exists: `init` only creates new replicas",
            file.display()
        ));
    }
    let repo =
        Repo::open(file, RepoConfig::default()).map_err(|e| format!("{}: {e}", file.display()))?;
    println!(
        "created replica {} (device {})",
        file.display(),
        repo.device_id()
    );
    repo.close().map_err(|e| e.to_string())
}

/// Opens an existing replica. `Repo::open` would create a missing file: refuse that first.
fn open(file: &Path) -> CliResult<Repo> {
    match std::fs::metadata(file) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return Err(format!("{} is not a file", file.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "{} does not exist (only `polyarch init` creates a store): check the path",
                file.display()
            ));
        }
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
    }
    Repo::open(file, RepoConfig::default()).map_err(|e| format!("{}: {e}", file.display()))
}

/// The document, which must exist in the replica.
fn existing_doc(repo: &mut Repo, doc: &str) -> CliResult<DocId> {
    let id = DocId::new(doc).map_err(|e| format!("invalid document id {doc:?}: {e}"))?;
    if !repo.contains(&id).map_err(|e| e.to_string())? {
        return Err(format!(
            "document {doc:?} does not exist in this replica (list them with `polyarch docs`)"
        ));
    }
    Ok(id)
}

fn docs(file: &Path) -> CliResult<()> {
    let mut repo = open(file)?;
    let ids = repo.doc_ids().map_err(|e| e.to_string())?;
    let width = ids
        .iter()
        .map(|d| d.as_str().len())
        .max()
        .unwrap_or(0)
        .max(8);
    println!(
        "{:<width$}  {:>8}  {:>8}  {:>10}",
        "DOCUMENT", "CHANGES", "LOGGED", "SNAPSHOT"
    );
    for id in &ids {
        let status = repo.doc_status(id).map_err(|e| format!("{id}: {e}"))?;
        let changes: u64 = status.version.iter().map(|(_, seq)| seq).sum();
        println!(
            "{:<width$}  {:>8}  {:>8}  {:>10}",
            id.as_str(),
            changes,
            status.logged_changes,
            bytes(status.snapshot_bytes)
        );
    }
    println!("{} documents", ids.len());
    Ok(())
}

fn dump(file: &Path, doc: &str) -> CliResult<()> {
    let mut repo = open(file)?;
    let id = existing_doc(&mut repo, doc)?;
    let json = repo.to_json(&id).map_err(|e| format!("{id}: {e}"))?;
    println!("{}", pretty(&json)?);
    Ok(())
}

fn status(file: &Path, json: bool) -> CliResult<()> {
    let repo = open(file)?;
    let status = repo.status().map_err(|e| e.to_string())?;
    if json {
        println!("{}", pretty(&status)?);
        return Ok(());
    }
    let now = now_ms();
    println!("# Replication");
    println!("device:{}", status.device);
    println!("epoch:{}", status.epoch);
    println!("actor:{}", status.actor);
    println!("log_head:{}", status.log_head);
    println!("documents:{}", status.documents);
    println!("unflushed:{}", status.unflushed);
    println!("pending:{}", status.pending);
    println!("known_peers:{}", status.peers.len());
    for (i, peer) in status.peers.iter().enumerate() {
        println!("peer{i}:{}", peer_line(peer, now));
    }
    Ok(())
}

fn peer_line(peer: &PeerStatus, now: u64) -> String {
    let label = if peer.label.is_empty() {
        "-"
    } else {
        peer.label.as_str()
    };
    let their_log = match &peer.their_log {
        Some((epoch, offset)) => format!("{offset}@{epoch}"),
        None => "none".to_owned(),
    };
    format!(
        "id={},label={label},acked={},unacked={},their_log={their_log},last_contact={}",
        peer.peer,
        peer.acked,
        peer.unacked,
        ago(peer.last_contact_ms, now)
    )
}

fn doc_status(file: &Path, doc: &str, json: bool) -> CliResult<()> {
    let mut repo = open(file)?;
    let id = existing_doc(&mut repo, doc)?;
    let status = repo.doc_status(&id).map_err(|e| format!("{id}: {e}"))?;
    if json {
        println!("{}", pretty(&status)?);
        return Ok(());
    }
    println!("# Document");
    println!("doc:{}", status.doc);
    println!("writers:{}", status.version.len());
    for (actor, seq) in &status.version {
        println!("writer:{actor},seq={seq}");
    }
    println!("version_token:{}", status.version_token);
    println!("logged_changes:{}", status.logged_changes);
    println!("logged_bytes:{}", status.logged_bytes);
    println!("snapshot_bytes:{}", status.snapshot_bytes);
    Ok(())
}

fn compact(file: &Path, doc: Option<&str>) -> CliResult<()> {
    let mut repo = open(file)?;
    let ids = match doc {
        Some(doc) => vec![existing_doc(&mut repo, doc)?],
        None => repo.doc_ids().map_err(|e| e.to_string())?,
    };
    let before = repo.store().size_bytes().map_err(|e| e.to_string())?;
    let mut changes = 0;
    for id in &ids {
        changes += repo
            .doc_status(id)
            .map_err(|e| format!("{id}: {e}"))?
            .logged_changes;
        repo.compact(id).map_err(|e| format!("{id}: {e}"))?;
    }
    let after = repo.store().size_bytes().map_err(|e| e.to_string())?;
    println!(
        "compacted {} documents ({changes} logged changes into snapshots); database {} -> {}",
        ids.len(),
        bytes(before),
        bytes(after)
    );
    Ok(())
}

fn pretty(value: &impl serde::Serialize) -> CliResult<String> {
    serde_json::to_string_pretty(value).map_err(|e| format!("cannot write JSON: {e}"))
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// "never", or how long ago a time in ms since the Unix epoch was.
fn ago(then_ms: u64, now_ms: u64) -> String {
    if then_ms == 0 {
        return "never".to_owned();
    }
    let secs = now_ms.saturating_sub(then_ms) / 1000;
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

/// Error messages are printed on one line.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
