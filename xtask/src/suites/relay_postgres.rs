//! A throwaway PostgreSQL server for the relay's PostgreSQL backend, up while the Rust tests
//! run.
//!
//! Contract: when a feature of the `polyarch` crate pulls in the `postgres` crate (the relay's
//! PostgreSQL backend; the test runs enable every feature), this starts Debian's
//! PostgreSQL on a free loopback port and sets `POLYARCH_TEST_POSTGRES_URL`
//! (`postgres://postgres@127.0.0.1:PORT/postgres`, trust auth) for the test runs, so the
//! storage conformance suite runs against both backends. The server stops, and its directory
//! is removed, when the returned guard is dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use super::Ctx;
use crate::setup;
use crate::step::{self, Steps};

/// A running server; dropping it stops the server and removes its files.
pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let mut stop = as_postgres(&self.bin.join("pg_ctl"));
        stop.arg("-D").arg(&data).args(["-m", "fast", "stop"]);
        if let Err(e) = step::run(&mut stop) {
            eprintln!("warning: could not stop PostgreSQL: {e:#}");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Start the server if the relay has a PostgreSQL backend; `None` (and a skipped step) if not.
pub fn start(ctx: &mut Ctx, steps: &mut Steps) -> Result<Option<Postgres>> {
    const NAME: &str = "PostgreSQL for the relay tests";
    if !uses_postgres(&ctx.root)? {
        steps.skip(
            NAME,
            "no feature of the polyarch crate enables `dep:postgres`",
        );
        return Ok(None);
    }
    let (server, url) = steps.run(NAME, launch)?;
    println!("PostgreSQL is up: {url}");
    ctx.test_env
        .push(("POLYARCH_TEST_POSTGRES_URL".into(), url));
    Ok(Some(server))
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

/// Install, initialise and start a server in a fresh temporary directory.
fn launch() -> Result<(Postgres, String)> {
    setup::apt_install(&["postgresql"])?;
    let bin = server_bin_dir()?;
    let dir = std::env::temp_dir().join(format!("polyarch-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if setup::is_root() {
        // initdb refuses to run as root: the server runs as `postgres`, in a directory it owns.
        step::run(Command::new("chown").arg("postgres:postgres").arg(&dir))?;
    }
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let data = dir.join("data");
    step::run(
        as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres"]),
    )?;
    let server = Postgres { bin, dir };
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1",
        server.dir.display()
    );
    step::run(
        as_postgres(&server.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(server.dir.join("log"))
            .args(["-w", "start"]),
    )?;
    Ok((
        server,
        format!("postgres://postgres@127.0.0.1:{port}/postgres"),
    ))
}

/// The newest `/usr/lib/postgresql/<version>/bin`.
fn server_bin_dir() -> Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed in /usr/lib/postgresql")?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .context("no server version under /usr/lib/postgresql")
}

/// A server program, run as the `postgres` user when we are root.
fn as_postgres(program: &Path) -> Command {
    if setup::is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starts a real server, connects with `psql`, stops it. Installs PostgreSQL if missing.
    #[test]
    #[ignore = "installs and starts PostgreSQL: run with `cargo test -p xtask -- --ignored`"]
    fn launches_a_server_that_accepts_connections() {
        let (server, url) = launch().unwrap();
        let dir = server.dir.clone();
        let out = Command::new("psql")
            .args([url.as_str(), "-tAc", "select 40 + 2"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42", "{out:?}");
        drop(server);
        assert!(!dir.exists(), "the server's directory is removed");
    }
}
