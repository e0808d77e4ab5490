//! Building for `wasm32-unknown-unknown`, reusable by every command that needs a wasm artifact
//! (`cargo xtask wasm`, the npm package, whose build is also `cargo xtask test`'s proof that
//! the core builds for wasm32).
//!
//! Two toolchains can do it (see `shared/TOOLCHAIN.md`):
//! - **rustup**: `rustup target add wasm32-unknown-unknown` (tried with a 20 s limit: where the
//!   download host is unreachable the command hangs instead of failing);
//! - **Debian**: where rustup cannot add the target, Debian's `rustc-web`/`cargo-web` (a newer
//!   Rust with its std source) build the standard library for wasm32 themselves
//!   (`-Z build-std`, allowed by `RUSTC_BOOTSTRAP=1`), into their own `target/wasm`.
//!
//! Both need a C compiler for wasm32, since SQLite's C (through `sqlite-wasm-rs`) is compiled
//! for the target: Debian's `clang-22` and `llvm-ar-22`.
//! `POLYARCH_WASM_TOOLCHAIN=rustup|debian` forces one of them.

use std::env;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use flate2::{Compression, write::GzEncoder};

use crate::{setup, step};

/// The target triple.
pub const TARGET: &str = "wasm32-unknown-unknown";
/// Debian packages of the fallback toolchain (and the C compiler it needs).
const DEBIAN_PKGS: [&str; 5] = [
    "rustc-web",
    "cargo-web",
    "rust-web-src",
    "clang-22",
    "lld-22",
];
/// Debian packages of the C compiler for wasm32 alone.
const C_PKGS: [&str; 2] = ["clang-22", "lld-22"];

/// Options of `cargo xtask wasm`.
#[derive(clap::Args)]
pub struct Options {
    /// The package whose lib target is built.
    #[arg(long, short, default_value = "polyarch")]
    package: String,
    /// Build with the dev profile instead of release.
    #[arg(long)]
    dev: bool,
    /// Then run wasm-bindgen (the CLI pinned to Cargo.lock's wasm-bindgen) for this target:
    /// web, nodejs, bundler, ... (needs a cdylib).
    #[arg(long, value_name = "TARGET")]
    bindgen: Option<String>,
    /// Where wasm-bindgen writes its output.
    #[arg(long, default_value = "target/wasm-pkg")]
    out_dir: PathBuf,
}

/// `cargo xtask wasm`.
pub fn run(root: &Path, opts: &Options) -> Result<()> {
    let mut steps = step::Steps::new();
    let result = (|| {
        let tc = steps.run("wasm32 toolchain", ensure_toolchain)?;
        let spec = Build {
            package: &opts.package,
            release: !opts.dev,
            opt_level: None,
            package_opt_levels: &[],
            sqlite_flags: None,
        };
        let artifact = steps.run(&format!("wasm32 build: {}", opts.package), || {
            build(root, tc, &spec)
        })?;
        report_size(&artifact)?;
        if let Some(target) = &opts.bindgen {
            let cli = steps.run("wasm-bindgen-cli (pinned)", || ensure_bindgen_cli(root))?;
            let out = root.join(&opts.out_dir);
            steps.run(&format!("wasm-bindgen --target {target}"), || {
                bindgen(&cli, &artifact, target, &out)
            })?;
        }
        Ok(())
    })();
    steps.summary();
    result
}

/// Which toolchain builds for wasm32 here.
#[derive(Clone, Copy, Debug)]
pub enum Toolchain {
    /// rustup's own toolchain with its prebuilt wasm32 std.
    Rustup,
    /// Debian's `/usr/bin/cargo` building std from source.
    Debian,
}

/// Find or install a toolchain for wasm32, skipping whatever is already there: an installed
/// rustup target, else an installed Debian fallback, else `rustup target add` (20 s limit),
/// else install the Debian fallback. Also makes sure the C compiler for wasm32 is there.
pub fn ensure_toolchain() -> Result<Toolchain> {
    let forced = env::var("POLYARCH_WASM_TOOLCHAIN").ok();
    let tc = match forced.as_deref() {
        Some("rustup") => {
            if !rustup_has_target() {
                rustup_add_target()?;
            }
            Toolchain::Rustup
        }
        Some("debian") => Toolchain::Debian,
        Some(other) => bail!("POLYARCH_WASM_TOOLCHAIN={other}: expected `rustup` or `debian`"),
        None if rustup_has_target() => Toolchain::Rustup,
        None if debian_ready() => Toolchain::Debian,
        None => match rustup_add_target() {
            Ok(()) => Toolchain::Rustup,
            Err(e) => {
                println!("rustup cannot add {TARGET} ({e:#}); using Debian's rustc-web instead");
                Toolchain::Debian
            }
        },
    };
    match tc {
        Toolchain::Rustup => setup::apt_install(&C_PKGS)?,
        Toolchain::Debian => setup::apt_install(&DEBIAN_PKGS)?,
    }
    println!("wasm32 toolchain: {tc:?}");
    Ok(tc)
}

/// The Debian packages [`ensure_toolchain`] will install here: the C compiler for wasm32, and
/// the whole fallback toolchain unless rustup already has the target (or one is forced).
pub fn toolchain_debs() -> Vec<&'static str> {
    match env::var("POLYARCH_WASM_TOOLCHAIN").ok().as_deref() {
        Some("rustup") => C_PKGS.to_vec(),
        Some("debian") => DEBIAN_PKGS.to_vec(),
        _ if rustup_has_target() => C_PKGS.to_vec(),
        _ => DEBIAN_PKGS.to_vec(),
    }
}

/// Whether rustup's active toolchain already has the wasm32 std.
fn rustup_has_target() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == TARGET)
        })
}

/// `rustup target add`, given 20 seconds.
fn rustup_add_target() -> Result<()> {
    step::run(Command::new("timeout").args(["20", "rustup", "target", "add", TARGET]))
}

/// Whether the Debian fallback is fully installed.
fn debian_ready() -> bool {
    Path::new("/usr/bin/cargo").exists() && setup::missing_debs(&DEBIAN_PKGS).is_empty()
}

/// What to build: a package's lib target.
pub struct Build<'a> {
    /// The package (`-p`).
    pub package: &'a str,
    /// Release profile (else dev).
    pub release: bool,
    /// Override the profile's `opt-level` (`"z"` for the npm package's size), through
    /// `CARGO_PROFILE_<PROFILE>_OPT_LEVEL` so that no manifest changes.
    pub opt_level: Option<&'a str>,
    /// `opt-level`s for single packages (`("hexane", "3")`), over `opt_level`; TOML values
    /// (`3`, `"s"`).
    pub package_opt_levels: &'a [(&'a str, &'a str)],
    /// Extra SQLite compile-time flags for `sqlite-wasm-rs` (its `SQLITE_WASM_RS_FLAGS`:
    /// `-DSQLITE_OMIT_X`, `-USQLITE_ENABLE_Y`), applied after its own.
    pub sqlite_flags: Option<&'a str>,
}

/// Build `spec` for wasm32 with `tc`; returns the artifact: the `.wasm` of a cdylib, else the
/// `.rlib`. The Debian toolchain builds into `target/wasm`, rustup's into `target`.
pub fn build(root: &Path, tc: Toolchain, spec: &Build) -> Result<PathBuf> {
    let mut cmd = match tc {
        Toolchain::Rustup => step::cargo(root),
        Toolchain::Debian => debian_cargo(root),
    };
    cmd.args(["build", "--lib", "--target", TARGET, "-p", spec.package])
        .arg("--message-format=json-render-diagnostics");
    for (var, tool) in [("CC", "clang-22"), ("AR", "llvm-ar-22")] {
        let var = format!("{var}_{}", TARGET.replace('-', "_"));
        if env::var_os(&var).is_none() {
            cmd.env(var, tool);
        }
    }
    if spec.release {
        cmd.arg("--release");
    }
    if let Some(level) = spec.opt_level {
        let profile = if spec.release { "RELEASE" } else { "DEV" };
        cmd.env(format!("CARGO_PROFILE_{profile}_OPT_LEVEL"), level);
    }
    let profile = if spec.release { "release" } else { "dev" };
    for (package, level) in spec.package_opt_levels {
        cmd.arg("--config").arg(format!(
            "profile.{profile}.package.{package}.opt-level={level}"
        ));
    }
    if let Some(flags) = spec.sqlite_flags {
        cmd.env("SQLITE_WASM_RS_FLAGS", flags);
    }
    if let Toolchain::Debian = tc {
        cmd.args(["-Z", "build-std=std,panic_abort", "--target-dir"])
            .arg(root.join("target/wasm"));
    }
    let manifest = manifest_path(root, spec.package)?;
    let json = step::stdout(&mut cmd)?;
    artifact(&json, &manifest)
        .with_context(|| format!("cargo reported no lib artifact for {}", spec.package))
}

/// Debian's cargo with its own rustc first on `PATH`, and nothing of rustup's in the
/// environment that `cargo run` gave this process.
fn debian_cargo(root: &Path) -> Command {
    let mut cmd = Command::new("/usr/bin/cargo");
    let path = env::var("PATH").unwrap_or_default();
    cmd.current_dir(root)
        .env("PATH", format!("/usr/bin:{path}"))
        .env("RUSTC_BOOTSTRAP", "1");
    for var in [
        "RUSTC",
        "RUSTDOC",
        "RUSTUP_TOOLCHAIN",
        "CARGO",
        "LD_LIBRARY_PATH",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// The lib artifact of the package whose manifest is `manifest`, in cargo's JSON messages:
/// its `.wasm` if it is a cdylib, else its `.rlib`. (Not simply the last artifact: with
/// pipelining, a crate can finish before the code generation of its dependencies.)
fn artifact(json: &str, manifest: &str) -> Option<PathBuf> {
    let msg = json
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["manifest_path"] == manifest)
        .find(|m| {
            m["target"]["kind"].as_array().is_some_and(|k| {
                k.iter()
                    .any(|k| k.as_str().is_some_and(|k| k.ends_with("lib")))
            })
        })?;
    let files: Vec<&str> = msg["filenames"]
        .as_array()?
        .iter()
        .filter_map(|f| f.as_str())
        .collect();
    let pick = |ext: &str| files.iter().find(|f| f.ends_with(ext)).map(PathBuf::from);
    pick(".wasm").or_else(|| pick(".rlib"))
}

/// The path of `package`'s Cargo.toml, as cargo reports it.
fn manifest_path(root: &Path, package: &str) -> Result<String> {
    let json =
        step::stdout(step::cargo(root).args(["metadata", "--no-deps", "--format-version", "1"]))?;
    let meta: serde_json::Value = serde_json::from_str(&json).context("cargo metadata's JSON")?;
    meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == package)
        .and_then(|p| p["manifest_path"].as_str().map(String::from))
        .with_context(|| format!("no package named {package} in the workspace"))
}

/// Print an artifact's size, raw and gzipped (best compression); returns the gzipped size.
pub fn report_size(path: &Path) -> Result<usize> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&bytes)?;
    let zipped = gz.finish()?.len();
    let kind = if path.extension().is_some_and(|e| e == "rlib") {
        " (an rlib: the crate's compiled code and metadata, not a linked module)"
    } else {
        ""
    };
    println!(
        "wasm artifact {}{kind}\n  raw  {:>10} bytes ({})\n  gzip {:>10} bytes ({})",
        path.display(),
        bytes.len(),
        human(bytes.len()),
        zipped,
        human(zipped)
    );
    Ok(zipped)
}

/// A byte count in KiB or MiB.
pub fn human(n: usize) -> String {
    let n = n as f64;
    if n >= 1024.0 * 1024.0 {
        format!("{:.2} MiB", n / (1024.0 * 1024.0))
    } else {
        format!("{:.1} KiB", n / 1024.0)
    }
}

/// The single version of `krate` in the workspace's Cargo.lock (made first if missing).
pub fn locked_version(root: &Path, krate: &str) -> Result<String> {
    let lock = root.join("Cargo.lock");
    if !lock.exists() {
        step::stdout(step::cargo(root).args(["metadata", "--format-version", "1"]))?;
    }
    let text = std::fs::read_to_string(&lock)
        .with_context(|| format!("cannot read {}", lock.display()))?;
    let versions = versions_in_lock(&text, krate);
    match versions.as_slice() {
        [v] => Ok(v.clone()),
        [] => bail!("{krate} is not in Cargo.lock: no crate of the workspace depends on it"),
        many => bail!("Cargo.lock has several versions of {krate}: {many:?}; pin one"),
    }
}

/// Every `version` recorded for package `krate` in a Cargo.lock's text.
fn versions_in_lock(text: &str, krate: &str) -> Vec<String> {
    let name_line = format!("name = \"{krate}\"");
    let mut lines = text.lines();
    let mut found = Vec::new();
    while let Some(line) = lines.next() {
        if line == name_line
            && let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            found.push(v.trim_end_matches('"').to_owned());
        }
    }
    found
}

/// The wasm-bindgen CLI at exactly Cargo.lock's wasm-bindgen version, installed once per
/// version under [`setup::tools_dir`]; returns the binary's path.
pub fn ensure_bindgen_cli(root: &Path) -> Result<PathBuf> {
    let version = locked_version(root, "wasm-bindgen")?;
    let dir = setup::tools_dir().join(format!("wasm-bindgen-cli-{version}"));
    let bin = dir.join("bin/wasm-bindgen");
    let reports = |bin: &Path| {
        Command::new(bin)
            .arg("--version")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&version))
    };
    if reports(&bin) {
        println!(
            "wasm-bindgen-cli {version}: already installed at {}",
            bin.display()
        );
        return Ok(bin);
    }
    setup::cargo_install("wasm-bindgen-cli", Some(&version), Some(&dir))?;
    anyhow::ensure!(
        reports(&bin),
        "{} does not report version {version}",
        bin.display()
    );
    Ok(bin)
}

/// `wasm-bindgen --target <target> --out-dir <out> <wasm>`.
pub fn bindgen(cli: &Path, wasm: &Path, target: &str, out: &Path) -> Result<()> {
    step::run(
        Command::new(cli)
            .args(["--target", target, "--out-dir"])
            .arg(out)
            .arg(wasm),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_locked_version() {
        let lock = "[[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\n\n\
                    [[package]]\nname = \"wasm-bindgen-shared\"\nversion = \"0.2.130\"\n";
        assert_eq!(versions_in_lock(lock, "wasm-bindgen"), ["0.2.130"]);
        assert!(versions_in_lock(lock, "js-sys").is_empty());
    }

    #[test]
    fn picks_the_package_artifact_and_prefers_wasm() {
        let json = concat!(
            r#"{"reason":"compiler-artifact","manifest_path":"/p/Cargo.toml","target":{"kind":["cdylib","rlib"]},"filenames":["/t/libp.rlib","/t/p.wasm"]}"#,
            "\n",
            r#"{"reason":"compiler-artifact","manifest_path":"/dep/Cargo.toml","target":{"kind":["lib"]},"filenames":["/t/libdep.rlib"]}"#,
            "\n",
            r#"{"reason":"build-finished","success":true}"#,
        );
        assert_eq!(
            artifact(json, "/p/Cargo.toml"),
            Some(PathBuf::from("/t/p.wasm"))
        );
        assert_eq!(
            artifact(json, "/dep/Cargo.toml"),
            Some(PathBuf::from("/t/libdep.rlib"))
        );
        assert_eq!(artifact(json, "/other/Cargo.toml"), None);
    }
}
