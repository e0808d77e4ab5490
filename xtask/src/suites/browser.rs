//! Tests in a real browser: the npm package's `test:browser` script (`bindings/wasm`) and the
//! web demo's `test` script (`web-demo`), in Debian's headless Chromium.
//!
//! Contract: the scripts drive Chromium through `playwright-core` with the executable path
//! from `CHROMIUM_BIN` (a browser cannot be downloaded here), launched with
//! `--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
//! --disable-background-networking --disable-component-update --disable-sync`.
//!
//! The package's relay test needs the relay binary: this suite builds it (`--all-features`, as
//! the Rust tests do, so the artifacts are shared) and passes its path as `POLYARCH_RELAY_BIN`.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::Ctx;
use crate::setup;
use crate::step::{self, Steps};

/// Run each browser suite whose npm script exists.
pub fn run(ctx: &Ctx, steps: &mut Steps) -> Result<()> {
    for (dir, script) in [("bindings/wasm", "test:browser"), ("web-demo", "test")] {
        let name = format!("browser tests ({dir})");
        let path = ctx.root.join(dir);
        if ctx.quick {
            steps.skip(&name, "--quick");
            continue;
        }
        if !super::has_npm_script(&path, script) {
            steps.skip(
                &name,
                &format!("no `{script}` script in {dir}/package.json"),
            );
            continue;
        }
        steps.run(&name, || {
            setup::apt_install(&["chromium"])?;
            super::npm_install(&path)?;
            let relay = relay_bin(&ctx.root)?;
            step::run(
                std::process::Command::new("npm")
                    .args(["run", script])
                    .current_dir(&path)
                    .env("CHROMIUM_BIN", "/usr/bin/chromium")
                    .env("POLYARCH_RELAY_BIN", &relay)
                    .envs(ctx.test_env.iter().map(|(k, v)| (k, v))),
            )
        })?;
    }
    Ok(())
}

/// Builds `polyarch-relay` and returns the executable's path (from cargo's own report).
fn relay_bin(root: &std::path::Path) -> Result<PathBuf> {
    let out = step::stdout(step::cargo(root).args([
        "build",
        "--all-features",
        "--bin",
        "polyarch-relay",
        "--message-format=json-render-diagnostics",
    ]))?;
    out.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "polyarch-relay")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .context("cargo built no polyarch-relay executable")
}
