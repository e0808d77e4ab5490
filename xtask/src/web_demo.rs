//! The web demo (`web-demo/`, the collaborative calendar): what it needs built, and
//! `cargo xtask demo`, which builds whatever is missing and serves it with a relay.
//!
//! The calendar consumes the *packed* npm package, as an app would: the newest
//! `target/npm/polyarch-*.tgz` (packed by `cargo xtask npm` when there is none) is installed
//! into `web-demo/node_modules` with `--no-save` after `npm ci`, so the committed lockfile
//! only pins the demo's own tools (Vite, TypeScript, playwright-core). Then `vite build`
//! writes `web-demo/dist`, which `web-demo/server.mjs` serves next to the relay
//! (`polyarch-relay`, the `relay` cargo feature), proxying `/sync` to it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::npm;
use crate::step::{self, Steps};

/// What the demo's server and tests need.
pub struct Prepared {
    /// The `polyarch-relay` executable.
    pub relay: PathBuf,
}

/// Builds the relay, the npm tarball if there is none, and the app (`npm ci`, the tarball,
/// `vite build`).
pub fn prepare(root: &Path, steps: &mut Steps) -> Result<Prepared> {
    let relay = steps.run("relay binary (polyarch-relay)", || relay_bin(root))?;
    let tarball = match newest_tarball(root)? {
        Some(t) => {
            println!("npm package: reusing {}", t.display());
            t
        }
        None => npm::build(root, steps, true)?,
    };
    let dir = root.join("web-demo");
    steps.run("web demo: npm ci + the packed polyarch", || {
        crate::suites::npm_install(&dir)?;
        // The tests and the bench reuse the package's browser-test support (Chromium, profiles),
        // which imports `playwright-core` from `bindings/wasm/node_modules`.
        let bindings = root.join("bindings/wasm");
        if !bindings.join("node_modules/playwright-core").exists() {
            crate::suites::npm_install(&bindings)?;
        }
        step::run(
            Command::new("npm")
                .args(["install", "--no-save", "--no-audit", "--no-fund"])
                .arg(&tarball)
                .current_dir(&dir),
        )
    })?;
    steps.run("web demo: tsc + vite build", || {
        step::run(Command::new("npm").args(["run", "build"]).current_dir(&dir))
    })?;
    Ok(Prepared { relay })
}

/// `cargo xtask demo`: prepares the calendar, then runs its server until it is stopped.
pub fn run(root: &Path) -> Result<()> {
    let mut steps = Steps::new();
    let prepared = prepare(root, &mut steps);
    steps.summary();
    let prepared = prepared?;
    step::run(
        Command::new("node")
            .arg("server.mjs")
            .arg("--relay-bin")
            .arg(&prepared.relay)
            .current_dir(root.join("web-demo")),
    )
}

/// Builds `polyarch-relay` and returns the executable's path.
pub fn relay_bin(root: &Path) -> Result<PathBuf> {
    step::cargo_bin(root, "polyarch-relay")
}

/// The newest `target/npm/polyarch-*.tgz`, if any.
pub fn newest_tarball(root: &Path) -> Result<Option<PathBuf>> {
    let dir = root.join("target/npm");
    if !dir.exists() {
        return Ok(None);
    }
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("polyarch-") && name.ends_with(".tgz") {
            found.push((entry.metadata()?.modified()?, entry.path()));
        }
    }
    Ok(found.into_iter().max().map(|(_, path)| path))
}
