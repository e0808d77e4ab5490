//! PostgreSQL for the relay's tests.
//!
//! The relay's PostgreSQL tests start their own throwaway servers (`tests/it/relay_support.rs`:
//! `initdb` and `pg_ctl` from `/usr/lib/postgresql/<version>/bin`, on a free loopback port).
//! This suite makes sure those binaries are installed, from Debian's `postgresql` package,
//! whenever a feature of the `polyarch` crate pulls in the `postgres` crate (the test runs
//! enable every feature).

use std::path::Path;

use anyhow::{Context, Result};

use super::Ctx;
use crate::setup;
use crate::step::{self, Steps};

/// Install PostgreSQL's server if the relay has a PostgreSQL backend; a skipped step if not.
pub fn ensure(ctx: &Ctx, steps: &mut Steps) -> Result<()> {
    const NAME: &str = "PostgreSQL server (for the relay tests)";
    if !uses_postgres(&ctx.root)? {
        steps.skip(
            NAME,
            "no feature of the polyarch crate enables `dep:postgres`",
        );
        return Ok(());
    }
    steps.run(NAME, || {
        setup::apt_install(&["postgresql"])?;
        let found = std::fs::read_dir("/usr/lib/postgresql")
            .context("PostgreSQL is not installed in /usr/lib/postgresql")?
            .filter_map(|e| e.ok())
            .any(|e| e.path().join("bin/initdb").exists());
        anyhow::ensure!(
            found,
            "no /usr/lib/postgresql/<version>/bin/initdb after installing"
        );
        Ok(())
    })
}

/// Whether a feature of the `polyarch` package enables the `postgres` dependency.
fn uses_postgres(root: &Path) -> Result<bool> {
    let json =
        step::stdout(step::cargo(root).args(["metadata", "--no-deps", "--format-version", "1"]))?;
    let meta: serde_json::Value = serde_json::from_str(&json).context("cargo metadata's JSON")?;
    Ok(meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == "polyarch")
        .filter_map(|p| p["features"].as_object())
        .flat_map(|features| features.values())
        .filter_map(|enables| enables.as_array())
        .flatten()
        .any(|f| f == "dep:postgres" || f == "postgres"))
}
