//! The npm package's tests in Node: `cargo xtask npm` builds and packs `bindings/wasm`, then
//! its Node tests (`bindings/wasm/tests/node`) and `tsc --noEmit` (`bindings/wasm/tests/types`)
//! run against the packed tarball installed into a fresh project (see [`crate::npm`]).

use anyhow::Result;

use super::Ctx;
use crate::npm;
use crate::step::Steps;

/// Build and pack the package, then test the tarball.
pub fn run(ctx: &Ctx, steps: &mut Steps) -> Result<()> {
    const NAME: &str = "npm package tests (Node)";
    if ctx.quick {
        steps.skip(NAME, "--quick");
        return Ok(());
    }
    let tarball = npm::build(&ctx.root, steps, true)?;
    npm::test_node(&ctx.root, steps, &tarball)
}
