//! The web demo's end-to-end tests: the calendar (`web-demo/`) built against the npm tarball
//! this run packed, served with the real relay, driven in Debian's headless Chromium by
//! `web-demo/tests/*.test.mjs` (`npm test`). See [`crate::web_demo`] for the build.

use anyhow::Result;

use super::Ctx;
use crate::step::{self, Steps};
use crate::{setup, web_demo};

/// Build the calendar and run its end-to-end tests.
pub fn run(ctx: &Ctx, steps: &mut Steps) -> Result<()> {
    const NAME: &str = "web demo e2e tests (Chromium)";
    if ctx.quick {
        steps.skip(NAME, "--quick");
        return Ok(());
    }
    if !super::has_npm_script(&ctx.root.join("web-demo"), "test") {
        steps.skip(NAME, "no `test` script in web-demo/package.json");
        return Ok(());
    }
    steps.run("chromium (apt)", || setup::apt_install(&["chromium"]))?;
    let prepared = web_demo::prepare(&ctx.root, steps)?;
    steps.run(NAME, || {
        step::run(
            std::process::Command::new("npm")
                .arg("test")
                .current_dir(ctx.root.join("web-demo"))
                .env("CHROMIUM_BIN", "/usr/bin/chromium")
                .env("POLYARCH_RELAY_BIN", &prepared.relay)
                .envs(ctx.test_env.iter().map(|(k, v)| (k, v))),
        )
    })
}
