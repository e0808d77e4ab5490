//! The benchmarks compile and link (in the dev profile, whose dependencies the test build
//! shares: `cargo bench --no-run` would build everything again with LTO, for no extra check);
//! running them is `cargo xtask bench`.

use anyhow::Result;

use super::Ctx;
use crate::step::{self, Steps};

/// `cargo build --workspace --benches --all-features`, when there is a `benches/` directory.
pub fn compile(ctx: &Ctx, steps: &mut Steps) -> Result<()> {
    const NAME: &str = "benches compile";
    if ctx.quick {
        steps.skip(NAME, "--quick");
    } else if !ctx.root.join("benches").is_dir() {
        steps.skip(NAME, "no benches/ directory");
    } else {
        steps.run(NAME, || {
            step::run(step::cargo(&ctx.root).args([
                "build",
                "--workspace",
                "--benches",
                "--all-features",
            ]))
        })?;
    }
    Ok(())
}
