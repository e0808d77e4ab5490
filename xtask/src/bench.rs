//! `cargo xtask bench`: run the benchmarks (`cargo bench`, then the JS benchmark of the npm
//! package against its peer libraries, see [`crate::js_bench`]), then print every result they
//! wrote to `target/polyarch-bench/*.json` as one table.
//!
//! Each JSON file holds one result: `name`, `ours` (null while not measured), `baseline`,
//! `unit`, `ratio`, `target`, `target_kind` (`ratio`, `at_most`, `none`) and `pass`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::step::{self, Steps};
use crate::{js_bench, npm};

/// Options of `cargo xtask bench`.
#[derive(clap::Args)]
pub struct Options {
    /// Shortened inputs for a smoke run (sets `POLYARCH_BENCH_QUICK=1`).
    #[arg(long)]
    quick: bool,
    /// Only print the table from the JSON files already there.
    #[arg(long)]
    table_only: bool,
    /// Only the JS benchmark (builds and packs the npm package, then runs it in Node).
    #[arg(long, conflicts_with = "no_js")]
    js: bool,
    /// Skip the JS benchmark (also skipped when arguments are passed to `cargo bench`).
    #[arg(long)]
    no_js: bool,
    /// Passed to `cargo bench`, e.g. `-- --bench sync`.
    #[arg(last = true)]
    cargo_args: Vec<String>,
}

/// Run `cargo bench` and the JS benchmark, then print the table.
pub fn run(root: &Path, opts: &Options) -> Result<()> {
    let out = out_dir(root);
    if !opts.table_only {
        let rust = !opts.js;
        let js = opts.js || (!opts.no_js && opts.cargo_args.is_empty());
        if rust && opts.cargo_args.is_empty() {
            remove_old_results(&out, "")?;
        } else if js {
            remove_old_results(&out, JS_PREFIX)?;
        }
        let mut steps = Steps::new();
        let result = (|| -> Result<()> {
            if rust {
                let mut cmd = step::cargo(root);
                cmd.arg("bench").args(&opts.cargo_args);
                if opts.quick {
                    cmd.env("POLYARCH_BENCH_QUICK", "1");
                }
                steps.run("cargo bench", || step::run(&mut cmd))?;
            }
            if js {
                let tarball = npm::build(root, &mut steps, true)?;
                let dir = js_bench::prepare(root, &mut steps, &tarball)?;
                js_bench::run(&dir, &mut steps, &out, opts.quick)?;
            }
            Ok(())
        })();
        steps.summary();
        result?;
    }
    print_table(&load(&out)?);
    Ok(())
}

/// `<target dir>/polyarch-bench`.
fn out_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("polyarch-bench")
}

/// The JS benchmark's results are `js_*.json`.
const JS_PREFIX: &str = "js_";

/// Delete the previous run's JSON files whose names start with `prefix`, so that a renamed
/// bench leaves no stale row.
fn remove_old_results(dir: &Path, prefix: &str) -> Result<()> {
    let named = |p: &PathBuf| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
    };
    for path in json_files(dir)?.into_iter().filter(named) {
        std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    }
    Ok(())
}

/// The `*.json` files in `dir`, sorted; none if `dir` does not exist.
fn json_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    Ok(files)
}

/// Every result in `dir`.
fn load(dir: &Path) -> Result<Vec<Value>> {
    json_files(dir)?
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)?;
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
        })
        .collect()
}

/// One table row: name, ours, baseline, unit, ratio, target, verdict.
fn row(r: &Value) -> [String; 7] {
    let unit = r["unit"].as_str().unwrap_or("");
    let target = match (r["target_kind"].as_str(), r["target"].as_f64()) {
        (Some("ratio"), Some(t)) => format!("ratio <= {}", num(t)),
        (Some("at_most"), Some(t)) => format!("<= {} {unit}", num(t)),
        (Some("ratio_at_least"), Some(t)) => format!("ratio >= {}", num(t)),
        (Some("at_least"), Some(t)) => format!(">= {} {unit}", num(t)),
        (_, Some(t)) => num(t),
        _ => "-".into(),
    };
    let verdict = match r["pass"].as_bool() {
        Some(true) => "PASS",
        Some(false) => "FAIL",
        None if r["ours"].is_null() => "not measured",
        None => "-",
    };
    let opt = |v: &Value| v.as_f64().map_or_else(|| "-".into(), num);
    [
        r["name"].as_str().unwrap_or("?").to_owned(),
        opt(&r["ours"]),
        opt(&r["baseline"]),
        unit.to_owned(),
        r["ratio"]
            .as_f64()
            .map_or_else(|| "-".into(), |x| format!("{x:.3}")),
        target,
        verdict.into(),
    ]
}

/// Up to four significant digits.
fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else if x.abs() >= 1.0 {
        format!("{x:.3}")
    } else {
        format!("{x:.4}")
    }
}

/// Print the results as an aligned table.
fn print_table(results: &[Value]) {
    if results.is_empty() {
        println!("\nno results in target/polyarch-bench/");
        return;
    }
    let header = [
        "name", "ours", "baseline", "unit", "ratio", "target", "result",
    ]
    .map(String::from);
    let rows: Vec<[String; 7]> = std::iter::once(header)
        .chain(results.iter().map(row))
        .collect();
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    println!();
    for (i, r) in rows.iter().enumerate() {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, w))| match c {
                1 | 2 | 4 => format!("{cell:>w$}"),
                _ => format!("{cell:<w$}"),
            })
            .collect();
        println!("| {} |", cells.join(" | "));
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            println!("|-{}-|", rule.join("-|-"));
        }
    }
    if results.iter().any(|r| r["quick"] == true) {
        println!(
            "(some results come from a quick run: POLYARCH_BENCH_QUICK shortened their inputs)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_show_targets_and_verdicts() {
        let r: Value = serde_json::from_str(
            r#"{"name":"apply","ours":7.1,"baseline":6.6,"unit":"s","ratio":1.0757,
                "target":1.3,"target_kind":"ratio","pass":true,"quick":false}"#,
        )
        .unwrap();
        assert_eq!(
            row(&r),
            [
                "apply",
                "7.100",
                "6.600",
                "s",
                "1.076",
                "ratio <= 1.300",
                "PASS"
            ]
        );
        let unmeasured: Value = serde_json::from_str(
            r#"{"name":"x","ours":null,"baseline":20000,"unit":"tx/s","ratio":null,
                "target":null,"target_kind":"none","pass":null}"#,
        )
        .unwrap();
        assert_eq!(row(&unmeasured)[6], "not measured");
        assert_eq!(row(&unmeasured)[5], "-");
    }
}
