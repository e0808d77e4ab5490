//! The npm package's tests in Node (`bindings/wasm`).
//!
//! Contract: `bindings/wasm/package.json` has a `test` script, and builds the package itself
//! before testing (e.g. in `pretest`) with
//! `cargo xtask wasm -p <crate> --bindgen <target> --out-dir <dir>`, which knows this
//! machine's wasm32 toolchain and pins the wasm-bindgen CLI to Cargo.lock.

use anyhow::Result;

use super::Ctx;
use crate::step::{self, Steps};

/// `npm ci` and `npm test` in `bindings/wasm`, when it is an npm package.
pub fn run(ctx: &Ctx, steps: &mut Steps) -> Result<()> {
    const NAME: &str = "npm package tests (Node)";
    let dir = ctx.root.join("bindings/wasm");
    if ctx.quick {
        steps.skip(NAME, "--quick");
        return Ok(());
    }
    if !super::has_npm_script(&dir, "test") {
        steps.skip(NAME, "no `test` script in bindings/wasm/package.json");
        return Ok(());
    }
    steps.run(NAME, || {
        super::npm_install(&dir)?;
        step::run(
            std::process::Command::new("npm")
                .arg("test")
                .current_dir(&dir)
                .envs(ctx.test_env.iter().map(|(k, v)| (k, v))),
        )
    })
}
