//! Editing commands: one local change per invocation, committed before the command returns
//! (it is synced later by `polyarch sync` or `polyarch serve`), and `get` to read one value.

use std::path::{Path as FsPath, PathBuf};

use clap::Subcommand;
use polyarch::model::Kind;
use polyarch::{DocId, Path, Repo, Seg, Tx, Value};

use super::{CliResult, existing_doc, open, pretty};

#[derive(Debug, Subcommand)]
pub(crate) enum EditCommand {
    /// Prints one value (or the whole document) as JSON; shows register conflicts.
    ///
    /// A register prints every concurrent value, one per line, the
    /// winner first (more than one line is a conflict; `set` resolves it); a counter its total;
    /// a text its string; a map or set as a JSON object. Without a path, the whole document.
    Get {
        /// The replica's SQLite file.
        file: PathBuf,
        /// The document id.
        doc: String,
        /// Map keys separated by `/`, e.g. `events/e1/title` (the whole document when omitted).
        path: Option<String>,
    },
    /// Sets a register, replacing every concurrent value.
    ///
    /// The value is a string unless `--json` is given.
    Set {
        /// The replica's SQLite file.
        file: PathBuf,
        /// The document id (created if missing).
        doc: String,
        /// Map keys separated by `/`; missing maps are created.
        path: String,
        /// The value.
        value: String,
        /// Read the value as a JSON scalar: a number, true, false, null or a "quoted string".
        #[arg(long)]
        json: bool,
    },
    /// Adds a member to a set (add wins over a concurrent remove).
    Add {
        /// The replica's SQLite file.
        file: PathBuf,
        /// The document id (created if missing).
        doc: String,
        /// Map keys separated by `/`; the set and missing maps are created.
        path: String,
        /// The member.
        member: String,
    },
    /// Removes a member from a set.
    Remove {
        /// The replica's SQLite file.
        file: PathBuf,
        /// The document id (created if missing).
        doc: String,
        /// Map keys separated by `/`.
        path: String,
        /// The member.
        member: String,
    },
    /// Adds N to a counter (N may be negative); concurrent increments add up.
    Incr {
        /// The replica's SQLite file.
        file: PathBuf,
        /// The document id (created if missing).
        doc: String,
        /// Map keys separated by `/`; the counter and missing maps are created.
        path: String,
        /// How much to add, e.g. 3 or -2.
        #[arg(allow_negative_numbers = true)]
        by: i64,
    },
    /// Appends a string to a collaborative text (concurrent appends interleave, none is lost).
    Append {
        /// The replica's SQLite file.
        file: PathBuf,
        /// The document id (created if missing).
        doc: String,
        /// Map keys separated by `/`; the text and missing maps are created.
        path: String,
        /// The string to append.
        text: String,
    },
}

pub(crate) fn run(command: EditCommand) -> CliResult<()> {
    match command {
        EditCommand::Get { file, doc, path } => get(&file, &doc, path.as_deref()),
        EditCommand::Set {
            file,
            doc,
            path,
            value,
            json,
        } => {
            let value = if json {
                json_scalar(&value)?
            } else {
                Value::Str(value)
            };
            let path = parse_path(&path)?;
            change(&file, &doc, |tx| tx.register(path).set(value))
        }
        EditCommand::Add {
            file,
            doc,
            path,
            member,
        } => {
            let path = parse_path(&path)?;
            change(&file, &doc, |tx| tx.set(path).add(member))
        }
        EditCommand::Remove {
            file,
            doc,
            path,
            member,
        } => {
            let path = parse_path(&path)?;
            change(&file, &doc, |tx| tx.set(path).remove(&member))
        }
        EditCommand::Incr {
            file,
            doc,
            path,
            by,
        } => {
            let path = parse_path(&path)?;
            change(&file, &doc, |tx| tx.counter(path).increment(by))
        }
        EditCommand::Append {
            file,
            doc,
            path,
            text,
        } => {
            let path = parse_path(&path)?;
            change(&file, &doc, |tx| {
                let mut handle = tx.text(path);
                let end = handle.read().len()?;
                handle.splice(end, 0, &text)
            })
        }
    }
}

/// `events/e1/title` as a path of map keys. Empty keys (`a//b`, a leading or trailing `/`)
/// are refused: they are almost always a typo.
fn parse_path(text: &str) -> CliResult<Path> {
    if text.is_empty() {
        return Err(
            "the path is empty: give map keys separated by `/`, e.g. events/e1/title".into(),
        );
    }
    let mut path = Path::root();
    for key in text.split('/') {
        if key.is_empty() {
            return Err(format!(
                "the path {text:?} has an empty key: separate keys with one `/`, with none at either end"
            ));
        }
        path = path.key(key);
    }
    Ok(path)
}

/// A JSON scalar as a register value.
fn json_scalar(text: &str) -> CliResult<Value> {
    let parsed: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        format!("--json: {text:?} is not JSON ({e}); quote strings, e.g. '\"Lunch\"'")
    })?;
    match parsed {
        serde_json::Value::Null => Ok(Value::Null),
        serde_json::Value::Bool(b) => Ok(Value::Bool(b)),
        serde_json::Value::String(s) => Ok(Value::Str(s)),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Value::Int(i)),
            (None, Some(f)) => Ok(Value::F64(f)),
            (None, None) => Err(format!("--json: {text} does not fit a 64-bit number")),
        },
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => Err(format!(
            "--json: a register holds one scalar, not {text}; use a path per field instead"
        )),
    }
}

/// Makes one change to `doc` and prints what was committed.
fn change(
    file: &FsPath,
    doc: &str,
    f: impl FnOnce(&mut Tx<'_>) -> Result<(), polyarch::ModelError>,
) -> CliResult<()> {
    let id = DocId::new(doc).map_err(|e| format!("invalid document id {doc:?}: {e}"))?;
    let mut repo = open(file)?;
    let committed = repo.change(&id, f).map_err(|e| format!("{id}: {e}"))?;
    match committed.receipt {
        Some(receipt) => println!(
            "committed change {} to {id} (log offset {})",
            receipt.seq,
            receipt.offset.map_or("-".into(), |o| o.to_string())
        ),
        None => println!("nothing changed in {id}"),
    }
    repo.close().map_err(|e| e.to_string())
}

fn get(file: &FsPath, doc: &str, path: Option<&str>) -> CliResult<()> {
    let mut repo: Repo = open(file)?;
    let id = existing_doc(&mut repo, doc)?;
    let path = match path {
        Some(p) => parse_path(p)?,
        None => Path::root(),
    };
    let lines = repo
        .view(&id, |view| -> CliResult<Vec<String>> {
            let kind = view.kind(path.clone()).map_err(|e| e.to_string())?;
            let one = |v: serde_json::Value| -> CliResult<Vec<String>> {
                serde_json::to_string(&v)
                    .map(|s| vec![s])
                    .map_err(|e| e.to_string())
            };
            match kind {
                Kind::Register => {
                    let values = view
                        .register(path.clone())
                        .conflicts()
                        .map_err(|e| e.to_string())?;
                    values
                        .iter()
                        .map(|v| serde_json::to_string(&v.to_json()).map_err(|e| e.to_string()))
                        .collect()
                }
                Kind::Counter => one(view
                    .counter(path.clone())
                    .value()
                    .map_err(|e| e.to_string())?
                    .into()),
                Kind::Text => one(view
                    .text(path.clone())
                    .to_string()
                    .map_err(|e| e.to_string())?
                    .into()),
                Kind::Map | Kind::List => {
                    let mut json = view.to_json();
                    for seg in path.segments() {
                        json = match (seg, json) {
                            (Seg::Key(k), serde_json::Value::Object(mut o)) => {
                                o.remove(k).unwrap_or_default()
                            }
                            _ => serde_json::Value::Null,
                        };
                    }
                    Ok(vec![pretty(&json)?])
                }
                Kind::Missing => Err(format!("nothing is at {path} in {id}")),
            }
        })
        .map_err(|e| format!("{id}: {e}"))??;
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_keys_separated_by_slashes() {
        assert_eq!(
            parse_path("events/e1/title").map(|p| p.to_string()),
            Ok("events/e1/title".to_string())
        );
        for bad in ["", "/a", "a/", "a//b"] {
            assert!(parse_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn json_values_are_scalars() {
        assert_eq!(json_scalar("42"), Ok(Value::Int(42)));
        assert_eq!(json_scalar("-1.5"), Ok(Value::F64(-1.5)));
        assert_eq!(json_scalar("true"), Ok(Value::Bool(true)));
        assert_eq!(json_scalar("\"x\""), Ok(Value::Str("x".into())));
        assert!(json_scalar("[1]").is_err());
        assert!(json_scalar("nope").is_err());
    }
}
