//! The Rust tests: `cargo nextest run` plus the doc tests where nextest is installed,
//! plain `cargo test` where it is not.

use anyhow::Result;

use super::Ctx;
use crate::step::{self, Steps};

/// Run the workspace's tests with every feature, with [`Ctx::test_env`] set.
pub fn run(ctx: &Ctx, steps: &mut Steps) -> Result<()> {
    let cargo = || {
        let mut cmd = step::cargo(&ctx.root);
        cmd.envs(ctx.test_env.iter().map(|(k, v)| (k, v)));
        cmd
    };
    if step::succeeds(step::cargo(&ctx.root).args(["nextest", "--version"])) {
        // nextest does not run doc tests; run them first so nextest's summary comes last.
        steps.run("doc tests", || {
            step::run(cargo().args(["test", "--doc", "--workspace", "--all-features"]))
        })?;
        steps.run("tests (nextest)", || {
            step::run(cargo().args(["nextest", "run", "--workspace", "--all-features"]))
        })
    } else {
        steps.run("tests (cargo test; nextest not installed)", || {
            step::run(cargo().args(["test", "--workspace", "--all-features"]))
        })
    }
}
