//! Static checks: formatting, clippy with warnings denied, rustdoc with warnings denied.

use anyhow::Result;

use super::Ctx;
use crate::setup;
use crate::step::{self, Steps};

/// `cargo fmt --all --check`.
pub fn fmt(ctx: &Ctx, steps: &mut Steps) -> Result<()> {
    steps.run("fmt", || {
        setup::rustup_component("rustfmt", "fmt")?;
        step::run(step::cargo(&ctx.root).args(["fmt", "--all", "--check"]))
    })
}

/// `cargo clippy --workspace --all-targets --all-features -- -D warnings`.
pub fn clippy(ctx: &Ctx, steps: &mut Steps) -> Result<()> {
    if ctx.quick {
        steps.skip("clippy", "--quick");
        return Ok(());
    }
    steps.run("clippy", || {
        setup::rustup_component("clippy", "clippy")?;
        step::run(step::cargo(&ctx.root).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]))
    })
}

/// `RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps --all-features`: with the same
/// packages and features as clippy, so the dependencies clippy checked are not checked again
/// (for the root package alone, features unify differently and most of them were).
pub fn doc(ctx: &Ctx, steps: &mut Steps) -> Result<()> {
    if ctx.quick {
        steps.skip("rustdoc", "--quick");
        return Ok(());
    }
    steps.run("rustdoc", || {
        step::run(
            step::cargo(&ctx.root)
                .args(["doc", "--workspace", "--no-deps", "--all-features"])
                .env("RUSTDOCFLAGS", "-Dwarnings"),
        )
    })
}
