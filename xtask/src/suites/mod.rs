//! `cargo xtask test`: every check, in one command, as CI runs it.
//!
//! One file per suite, each a function that runs its steps or records why it is skipped (its
//! files do not exist yet, or `--quick`). The order puts the cheap checks first, so that a
//! formatting slip fails in seconds, and the test runners last, so that their summaries are the
//! last lines a reader (or CI) sees before the xtask's own summary.

mod benches;
mod browser;
mod checks;
mod native;
mod relay_postgres;
mod rust_tests;
mod wasm_node;
mod web_demo;

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::setup;
use crate::step::Steps;

/// Options of `cargo xtask test`.
#[derive(clap::Args)]
pub struct Options {
    /// Local iteration: skip clippy, rustdoc, the bench build and everything wasm.
    #[arg(long)]
    quick: bool,
    /// Run the long tests too: sets `POLYARCH_SOAK=1` for the test runs.
    #[arg(long)]
    soak: bool,
}

/// What every suite gets.
pub struct Ctx {
    /// The workspace root.
    pub root: PathBuf,
    /// `--quick` was given.
    pub quick: bool,
    /// Environment for every test run (`POLYARCH_SOAK`, ...).
    pub test_env: Vec<(String, String)>,
}

/// Run every suite; print a summary whatever happens.
pub fn run(root: &Path, opts: &Options) -> Result<()> {
    let mut ctx = Ctx {
        root: root.to_path_buf(),
        quick: opts.quick,
        test_env: Vec::new(),
    };
    if opts.soak {
        ctx.test_env.push(("POLYARCH_SOAK".into(), "1".into()));
    }
    let mut steps = Steps::new();
    let result = run_suites(&ctx, &mut steps);
    steps.summary();
    match &result {
        Ok(()) => println!("xtask test: every step passed"),
        Err(_) => println!("xtask test: FAILED"),
    }
    result
}

fn run_suites(ctx: &Ctx, steps: &mut Steps) -> Result<()> {
    prefetch(ctx);
    checks::fmt(ctx, steps)?;
    checks::clippy(ctx, steps)?;
    checks::doc(ctx, steps)?;
    benches::compile(ctx, steps)?;
    wasm_node::run(ctx, steps)?;
    browser::run(ctx, steps)?;
    web_demo::run(ctx, steps)?;
    relay_postgres::ensure(ctx, steps)?;
    native::run(ctx, steps)?;
    rust_tests::run(ctx, steps)
}

/// Start installing, in the background, the Debian packages the later suites need (Chromium,
/// PostgreSQL, valgrind, the wasm32 C compiler, ...), so that on a new machine their download
/// overlaps the compilation of the first steps instead of adding to it. Each suite still asks
/// for its own packages through [`setup::apt_install`], which waits for this first.
fn prefetch(ctx: &Ctx) {
    let mut debs = vec!["postgresql", "valgrind", "python3-venv", "libjna-java"];
    if !ctx.quick {
        debs.push("chromium");
        debs.extend(crate::wasm::toolchain_debs());
    }
    setup::prefetch_debs(debs, &ctx.root.join("target/xtask-apt.log"));
}

/// `npm ci` where a lockfile is committed, else `npm install`, in `dir`.
pub(crate) fn npm_install(dir: &Path) -> Result<()> {
    let verb = if dir.join("package-lock.json").exists() {
        "ci"
    } else {
        "install"
    };
    crate::step::run(std::process::Command::new("npm").arg(verb).current_dir(dir))
}

/// Whether `dir/package.json` declares the npm script `name`.
fn has_npm_script(dir: &Path, name: &str) -> bool {
    std::fs::read_to_string(dir.join("package.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|json| json["scripts"][name].is_string())
}
