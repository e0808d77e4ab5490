//! The whole workspace builds, every target (libraries, binaries, tests, benchmarks, examples),
//! in the dev profile: this proves the benchmarks compile and link (`cargo bench --no-run` would
//! build everything again with LTO, for no extra check; running them is `cargo xtask bench`),
//! and it is the build every later step reuses: the relay and CLI binaries, the native
//! bindings, the doc tests and nextest find their artifacts fresh.

use anyhow::Result;

use super::Ctx;
use crate::step::{self, Steps};

/// `cargo build --workspace --all-features --all-targets`.
pub fn compile(ctx: &Ctx, steps: &mut Steps) -> Result<()> {
    const NAME: &str = "build: all targets (benches too)";
    if ctx.quick {
        steps.skip(NAME, "--quick");
        return Ok(());
    }
    steps.run(NAME, || {
        step::run(step::cargo_build(&ctx.root).arg("--all-targets"))
    })
}
