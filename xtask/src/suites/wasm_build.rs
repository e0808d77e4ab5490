//! The wasm32 proof: the `polyarch` crate (default features, lib only) builds for
//! `wasm32-unknown-unknown`, so nothing native slips into the core.

use anyhow::Result;

use super::Ctx;
use crate::step::Steps;
use crate::wasm;

/// Install a wasm32 toolchain if needed, build, print the artifact's size.
pub fn run(ctx: &Ctx, steps: &mut Steps) -> Result<()> {
    if ctx.quick {
        steps.skip("wasm32 build", "--quick");
        return Ok(());
    }
    let tc = steps.run("wasm32 toolchain", wasm::ensure_toolchain)?;
    let spec = wasm::Build {
        package: "polyarch",
        release: true,
        opt_level: None,
    };
    let artifact = steps.run("wasm32 build: polyarch (lib, default features)", || {
        wasm::build(&ctx.root, tc, &spec)
    })?;
    wasm::report_size(&artifact).map(drop)
}
