//! Installing what the checks need, idempotently: each helper first looks for the tool and does
//! nothing when it is there, so `cargo xtask test` works on a brand-new machine and costs little
//! on a prepared one.

use std::env;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::thread::{self, JoinHandle};

use anyhow::{Context, Result};

use crate::step;

/// Debian packages from `pkgs` that are not installed yet.
pub fn missing_debs<'a>(pkgs: &[&'a str]) -> Vec<&'a str> {
    pkgs.iter()
        .copied()
        .filter(|p| {
            let out = Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output();
            !out.is_ok_and(|o| o.stdout.ends_with(b"install ok installed"))
        })
        .collect()
}

/// Whether this process runs as root (then `apt-get` needs no `sudo`).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// `apt-get` (through `sudo` unless we are root), non-interactive.
fn apt_get() -> Command {
    let mut cmd = if is_root() {
        Command::new("apt-get")
    } else {
        let mut c = Command::new("sudo");
        c.arg("apt-get");
        c
    };
    cmd.env("DEBIAN_FRONTEND", "noninteractive");
    cmd
}

/// The background installation [`prefetch_debs`] started, if it has not been waited for.
static PREFETCH: Mutex<Option<JoinHandle<()>>> = Mutex::new(None);

/// Start installing the missing packages of `pkgs` on a background thread, its output going to
/// `log`. Failures are not reported here: [`apt_install`] waits for this thread, then installs
/// whatever is still missing itself, in the foreground, and reports its errors.
pub fn prefetch_debs(pkgs: Vec<&'static str>, log: &Path) {
    let missing = missing_debs(&pkgs);
    if missing.is_empty() {
        return;
    }
    println!(
        "apt: installing in the background (log: {}): {}",
        log.display(),
        missing.join(" ")
    );
    let log = log.to_path_buf();
    let handle = thread::spawn(move || {
        let attempt = |args: &[&str]| {
            let run = || -> std::io::Result<bool> {
                if let Some(dir) = log.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let out = File::options().create(true).append(true).open(&log)?;
                let err = out.try_clone()?;
                let status = apt_get()
                    .args(args)
                    .stdin(Stdio::null())
                    .stdout(out)
                    .stderr(err)
                    .status()?;
                Ok(status.success())
            };
            run().unwrap_or(false)
        };
        let install: Vec<&str> = ["install", "-y"].into_iter().chain(missing).collect();
        if !attempt(&install) && attempt(&["update"]) {
            attempt(&install);
        }
    });
    *PREFETCH.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
}

/// Wait for the background installation, if one is running.
fn wait_prefetch() {
    let handle = PREFETCH.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(handle) = handle {
        println!("apt: waiting for the background installation");
        let _ = handle.join();
    }
}

/// Install the Debian packages that are missing (after the background installation, if any,
/// is over). The package lists are refreshed (`apt-get update`) only when a first install
/// attempt fails, since they may be stale.
pub fn apt_install(pkgs: &[&str]) -> Result<()> {
    wait_prefetch();
    let missing = missing_debs(pkgs);
    if missing.is_empty() {
        println!("apt: already installed: {}", pkgs.join(" "));
        return Ok(());
    }
    let install = || step::run(apt_get().args(["install", "-y"]).args(&missing));
    if install().is_err() {
        println!("apt: install failed; refreshing the package lists and trying again");
        step::run(apt_get().arg("update"))?;
        install()?;
    }
    Ok(())
}

/// `cargo install` a crate: `--locked` first (the versions its authors tested); if that cannot
/// resolve (a registry without the newest patch release of some dependency), once more without.
/// `version` is pinned exactly; `root` is the install root (`<root>/bin/...`), else cargo's own.
pub fn cargo_install(
    krate: &str,
    version: Option<&str>,
    root: Option<&std::path::Path>,
) -> Result<()> {
    let cmd = |locked: bool| {
        let mut c = Command::new("cargo");
        c.args(["install", krate]);
        if locked {
            c.arg("--locked");
        }
        if let Some(v) = version {
            c.arg("--version").arg(format!("={v}"));
        }
        if let Some(r) = root {
            c.arg("--root").arg(r);
        }
        c
    };
    if let Err(e) = step::run(&mut cmd(true)) {
        println!("cargo install --locked failed ({e:#}); retrying without --locked");
        step::run(&mut cmd(false)).with_context(|| format!("cannot install {krate}"))?;
    }
    Ok(())
}

/// Make sure a rustup component (`rustfmt`, `clippy`) works; `probe` is a cargo subcommand
/// (`fmt`, `clippy`) whose `--version` tells. Adding is bounded in time: rustup can hang when
/// its download host is unreachable.
pub fn rustup_component(component: &str, probe: &str) -> Result<()> {
    if step::succeeds(Command::new("cargo").args([probe, "--version"])) {
        return Ok(());
    }
    step::run(Command::new("timeout").args(["120", "rustup", "component", "add", component]))
        .with_context(|| format!("`cargo {probe}` is missing and rustup could not add {component}"))
}

/// Whether rustup has a toolchain whose name starts with `name` (e.g. `nightly`).
pub fn has_toolchain(name: &str) -> bool {
    Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.starts_with(name))
        })
}

/// Where pinned tools (wasm-bindgen-cli, ...) are installed: `$POLYARCH_TOOLS_DIR`, else
/// `~/.cache/polyarch/tools` (outside the work tree, so fresh clones on one machine share them;
/// every tool sits in a directory named after its exact version, so versions never mix).
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = env::var_os("POLYARCH_TOOLS_DIR") {
        return PathBuf::from(dir);
    }
    let cache = env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("target"));
    cache.join("polyarch/tools")
}
