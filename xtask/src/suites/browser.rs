//! Tests in a real browser: the npm package's `test:browser` script (`bindings/wasm`) and the
//! web demo's `test` script (`web-demo`), in Debian's headless Chromium.
//!
//! Contract: the scripts drive Chromium through `playwright-core` with the executable path
//! from `CHROMIUM_BIN` (a browser cannot be downloaded here), launched with
//! `--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
//! --disable-background-networking --disable-component-update --disable-sync`.

use anyhow::Result;

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
            step::run(
                std::process::Command::new("npm")
                    .args(["run", script])
                    .current_dir(&path)
                    .env("CHROMIUM_BIN", "/usr/bin/chromium")
                    .envs(ctx.test_env.iter().map(|(k, v)| (k, v))),
            )
        })?;
    }
    Ok(())
}
