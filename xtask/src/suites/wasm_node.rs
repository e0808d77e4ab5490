//! The npm package's tests in Node: `cargo xtask npm` builds and packs `bindings/wasm`, then
//! its Node tests (`bindings/wasm/tests/node`) and `tsc --noEmit` (`bindings/wasm/tests/types`)
//! run against the packed tarball installed into a fresh project (see [`crate::npm`]); then the
//! JS bench's smoke run checks that the tarball, automerge, yjs and loro replay the first 2,000
//! keystrokes of the trace to the same text (see [`crate::js_bench`]).

use anyhow::Result;

use super::Ctx;
use crate::step::Steps;
use crate::{js_bench, npm};

/// Build and pack the package, then test the tarball.
pub fn run(ctx: &Ctx, steps: &mut Steps) -> Result<()> {
    const NAME: &str = "npm package tests (Node)";
    if ctx.quick {
        steps.skip(NAME, "--quick");
        return Ok(());
    }
    let tarball = npm::build(&ctx.root, steps, true)?;
    npm::test_node(&ctx.root, steps, &tarball)?;
    let dir = js_bench::prepare(&ctx.root, steps, &tarball)?;
    js_bench::smoke(&dir, steps)
}
