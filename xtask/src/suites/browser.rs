//! Tests in a real browser: the npm package's `test:browser` script (`bindings/wasm`), in
//! Debian's headless Chromium (the web demo's tests are [`super::web_demo`]).
//!
//! Contract: the scripts drive Chromium through `playwright-core` with the executable path
//! from `CHROMIUM_BIN` (a browser cannot be downloaded here), launched with
//! `--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
//! --disable-background-networking --disable-component-update --disable-sync`.
//!
//! The package's relay test needs the relay binary: this suite builds it (`--all-features`, as
//! the Rust tests do, so the artifacts are shared) and passes its path as `POLYARCH_RELAY_BIN`.

use anyhow::Result;

use super::Ctx;
use crate::step::{self, Steps};
use crate::{setup, web_demo};

/// Run the package's browser tests.
pub fn run(ctx: &Ctx, steps: &mut Steps) -> Result<()> {
    const NAME: &str = "browser tests (bindings/wasm)";
    const SCRIPT: &str = "test:browser";
    let path = ctx.root.join("bindings/wasm");
    if ctx.quick {
        steps.skip(NAME, "--quick");
        return Ok(());
    }
    if !super::has_npm_script(&path, SCRIPT) {
        steps.skip(
            NAME,
            "no `test:browser` script in bindings/wasm/package.json",
        );
        return Ok(());
    }
    steps.run(NAME, || {
        setup::apt_install(&["chromium"])?;
        super::npm_install(&path)?;
        let relay = web_demo::relay_bin(&ctx.root)?;
        step::run(
            std::process::Command::new("npm")
                .args(["run", SCRIPT])
                .current_dir(&path)
                .env("CHROMIUM_BIN", "/usr/bin/chromium")
                .env("POLYARCH_RELAY_BIN", &relay)
                .envs(ctx.test_env.iter().map(|(k, v)| (k, v))),
        )
    })
}
