//! The JS benchmark (`bindings/wasm/bench`): the packed `polyarch` npm package against
//! `@automerge/automerge`, `yjs` and `loro-crdt` in Node, on the automerge-paper trace.
//!
//! The bench directory has its own `package.json` and lock file for the peer libraries;
//! [`prepare`] runs `npm ci` there and installs the tarball `cargo xtask npm` packed (never the
//! source tree), as the Node tests do. [`run`] then runs the full benchmark, which writes
//! `target/polyarch-bench/js_*.json` for `cargo xtask bench` to print; [`smoke`] runs the first
//! 2,000 keystrokes through the four libraries and checks they end with the same text (part of
//! the Node test step, a few seconds).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::step::{self, Steps};

/// The bench's directory, relative to the workspace root.
const DIR: &str = "bindings/wasm/bench";

/// `npm ci` in the bench directory, then the packed `tarball` installed over it.
pub fn prepare(root: &Path, steps: &mut Steps, tarball: &Path) -> Result<PathBuf> {
    let dir = root.join(DIR);
    steps.run("npm: the JS bench's libraries and the tarball", || {
        step::run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir),
        )?;
        step::run(
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--no-save"])
                .arg(tarball)
                .current_dir(&dir),
        )
    })?;
    Ok(dir)
}

/// The full benchmark (every library in its own process; automerge alone takes a minute),
/// writing its results into `out`; `quick` replays a 20,000-keystroke prefix instead.
pub fn run(dir: &Path, steps: &mut Steps, out: &Path, quick: bool) -> Result<()> {
    steps.run(
        "node run.mjs (JS bench: polyarch, automerge, yjs, loro)",
        || {
            let mut cmd = Command::new("node");
            cmd.arg("run.mjs").arg("--out").arg(out).current_dir(dir);
            if quick {
                cmd.env("POLYARCH_BENCH_QUICK", "1");
            }
            step::run(&mut cmd)
        },
    )
}

/// The smoke run: 2,000 keystrokes and the divergence scenario through the four libraries, in
/// one process; fails unless every library ends with the trace's text and converges.
pub fn smoke(dir: &Path, steps: &mut Steps) -> Result<()> {
    steps.run("node run.mjs --smoke (JS bench, 2,000 keystrokes)", || {
        step::run(
            Command::new("node")
                .args(["run.mjs", "--smoke"])
                .current_dir(dir),
        )
    })
}
