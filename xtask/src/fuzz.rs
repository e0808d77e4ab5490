//! `cargo xtask fuzz --seconds N`: every cargo-fuzz target in `fuzz/`, N seconds each, with
//! nightly Rust (cargo-fuzz needs it for the sanitizer flags). Crashes are left in
//! `fuzz/artifacts/<target>/`, and the command fails naming the target.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

use crate::setup;
use crate::step::{self, Steps};

/// Options of `cargo xtask fuzz`.
#[derive(clap::Args)]
pub struct Options {
    /// How long to fuzz each target, in seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Only these targets (default: every target `cargo fuzz list` names).
    targets: Vec<String>,
}

/// Install cargo-fuzz if needed, then run each target in turn.
pub fn run(root: &Path, opts: &Options) -> Result<()> {
    if !root.join("fuzz").is_dir() {
        println!("fuzz: skipped: there is no fuzz/ directory yet");
        return Ok(());
    }
    if !setup::has_toolchain("nightly") {
        println!("fuzz: skipped: no nightly toolchain (`rustup toolchain list` has none)");
        return Ok(());
    }
    let mut steps = Steps::new();
    let result = fuzz_all(root, opts, &mut steps);
    steps.summary();
    result
}

fn fuzz_all(root: &Path, opts: &Options, steps: &mut Steps) -> Result<()> {
    steps.run("cargo-fuzz", || {
        if step::succeeds(Command::new("cargo").args(["fuzz", "--version"])) {
            println!("cargo-fuzz: already installed");
            Ok(())
        } else {
            setup::cargo_install("cargo-fuzz", None, None)
        }
    })?;
    let targets = if opts.targets.is_empty() {
        let list = step::stdout(step::cargo(root).args(["+nightly", "fuzz", "list"]))?;
        list.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    } else {
        opts.targets.clone()
    };
    if targets.is_empty() {
        bail!("fuzz/ has no fuzz targets");
    }
    for target in &targets {
        steps.run(&format!("fuzz {target} ({} s)", opts.seconds), || {
            step::run(
                step::cargo(root)
                    .args(["+nightly", "fuzz", "run", target, "--"])
                    .arg(format!("-max_total_time={}", opts.seconds)),
            )
        })?;
    }
    Ok(())
}
