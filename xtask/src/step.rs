//! Steps and subprocesses: a header and a duration for every step, a summary at the end, and an
//! error that names the step and the command whenever a subprocess fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// What happened to one step.
enum Outcome {
    Passed,
    Failed,
    Skipped(String),
}

/// The steps of one command, in order, with their outcomes and durations.
pub struct Steps {
    done: Vec<(String, Outcome, Duration)>,
    started: Instant,
}

impl Steps {
    /// No steps yet; the clock for the total starts now.
    pub fn new() -> Self {
        Steps {
            done: Vec::new(),
            started: Instant::now(),
        }
    }

    /// Run one step under a header; print its duration; on failure, name the step in the error.
    pub fn run<T>(&mut self, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        println!("\n==> {name}");
        let start = Instant::now();
        let result = f();
        let took = start.elapsed();
        let (outcome, word) = match result {
            Ok(_) => (Outcome::Passed, "ok"),
            Err(_) => (Outcome::Failed, "FAILED"),
        };
        println!("<== {name}: {word} in {}", secs(took));
        self.done.push((name.to_owned(), outcome, took));
        result.with_context(|| format!("step `{name}` failed"))
    }

    /// Record a step that does not apply here, with the reason.
    pub fn skip(&mut self, name: &str, reason: &str) {
        println!("\n==> {name}: skipped ({reason})");
        self.done.push((
            name.to_owned(),
            Outcome::Skipped(reason.to_owned()),
            Duration::ZERO,
        ));
    }

    /// Print every step with its outcome and duration, then the total.
    pub fn summary(&self) {
        println!("\nxtask summary:");
        for (name, outcome, took) in &self.done {
            let status = match outcome {
                Outcome::Passed => format!("ok       {:>9}", secs(*took)),
                Outcome::Failed => format!("FAILED   {:>9}", secs(*took)),
                Outcome::Skipped(why) => format!("skipped  ({why})"),
            };
            println!("  {name:<34} {status}");
        }
        println!("  {:<34} {:>18}", "total", secs(self.started.elapsed()));
    }
}

/// A duration as seconds with one decimal, e.g. `12.3 s`.
pub fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// `cargo` (rustup's proxy, so `+nightly` works) run in the workspace root.
pub fn cargo(root: &Path) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root);
    cmd
}

/// `cargo build` with the package and feature selection every build of `cargo xtask` uses
/// (`--workspace --all-features`): features then unify the same way in each, so whatever one
/// build compiled the next reuses. (`-p` or a build from the root package alone resolves
/// features differently, and recompiles ~45 dependencies.)
pub fn cargo_build(root: &Path) -> Command {
    let mut cmd = cargo(root);
    cmd.args(["build", "--workspace", "--all-features"]);
    cmd
}

/// Builds the workspace binary `name` (through [`cargo_build`], so the artifacts are shared
/// with the tests' build) and returns the executable's path (from cargo's own report).
pub fn cargo_bin(root: &Path, name: &str) -> Result<PathBuf> {
    let out = stdout(
        cargo_build(root)
            .args(["--bin", name])
            .args(["--message-format=json-render-diagnostics"]),
    )?;
    out.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .with_context(|| format!("cargo built no {name} executable"))
}

/// Cargo's target directory (honours `CARGO_TARGET_DIR`).
pub fn target_dir(root: &Path) -> Result<PathBuf> {
    let json = stdout(cargo(root).args(["metadata", "--no-deps", "--format-version", "1"]))?;
    let meta: serde_json::Value = serde_json::from_str(&json).context("cargo metadata's JSON")?;
    meta["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata has no target_directory")
}

/// Makes `dir` a fresh, empty directory (removing whatever it held).
pub fn fresh_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// The command line as it would be typed, with the environment variables set for it.
pub fn display(cmd: &Command) -> String {
    let mut parts: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| v.map(|v| format!("{}={}", k.to_string_lossy(), v.to_string_lossy())))
        .collect();
    parts.push(cmd.get_program().to_string_lossy().into_owned());
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

/// Run a command with inherited stdio; fail unless it exits with status 0.
pub fn run(cmd: &mut Command) -> Result<()> {
    let line = display(cmd);
    println!("$ {line}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{line}`"))?;
    if !status.success() {
        bail!("`{line}` exited with {status}");
    }
    Ok(())
}

/// Run a command and return its stdout (stderr passes through); fail unless it exits with 0.
pub fn stdout(cmd: &mut Command) -> Result<String> {
    let line = display(cmd);
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot start `{line}`"))?;
    if !out.status.success() {
        bail!("`{line}` exited with {}", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether a command runs and exits with 0, with all its output discarded (a probe).
pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
