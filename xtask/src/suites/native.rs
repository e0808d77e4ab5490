//! The native bindings, tested from the languages that embed them (see the README's "Native
//! apps"):
//!
//! - C: `bindings/c/tests/c/sync_two_replicas.c`, compiled with the system `cc` against
//!   `include/polyarch.h` and the static library, run under valgrind (no leaks, no invalid
//!   accesses).
//! - Python: the wheel (`bindings/uniffi/python/build_wheel.py`) pip-installed into a venv
//!   with pytest, running `bindings/uniffi/tests/python` (a real `polyarch-relay` among them).
//! - Kotlin: the generated Kotlin and `bindings/uniffi/tests/kotlin/Main.kt`, compiled with the
//!   npm package `kotlin-compiler` and run on the JVM with Debian's JNA.
//!
//! Everything reuses the workspace's debug build (same features as the test run, so nothing
//! is compiled twice). Tools are installed when missing: valgrind, python3-venv and
//! libjna-java from Debian, pytest from PyPI, kotlinc from npm (cached in [`setup::tools_dir`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use super::Ctx;
use crate::setup;
use crate::step::{self, Steps};

/// The Kotlin compiler's npm package version (runs on Java 17).
const KOTLIN_COMPILER: &str = "2.4.20";

/// Where Debian's `libjna-java` puts the JNA jar.
const JNA_JAR: &str = "/usr/share/java/jna.jar";

/// Build the bindings and run the C, Python and Kotlin tests.
pub fn run(ctx: &Ctx, steps: &mut Steps) -> Result<()> {
    const PYTHON: &str = "Python binding: wheel + pytest (relay process)";
    const KOTLIN: &str = "Kotlin binding: kotlinc + JVM";
    let has_uniffi = ctx.root.join("bindings/uniffi/Cargo.toml").exists();
    let mut packages = vec!["polyarch", "polyarch-c"];
    if has_uniffi {
        packages.push("polyarch-uniffi");
    }
    let target = steps.run("native bindings: build (debug, all features)", || {
        let mut cmd = step::cargo(&ctx.root);
        cmd.arg("build").arg("--all-features");
        for p in &packages {
            cmd.args(["-p", p]);
        }
        step::run(&mut cmd)?;
        target_dir(&ctx.root)
    })?;
    let debug = target.join("debug");
    let work = target.join("native-tests");
    steps.run("C binding: sync_two_replicas under valgrind", || {
        c_test(&ctx.root, &debug, &work)
    })?;
    if !has_uniffi {
        steps.skip(PYTHON, "bindings/uniffi does not exist yet");
        steps.skip(KOTLIN, "bindings/uniffi does not exist yet");
        return Ok(());
    }
    steps.run(PYTHON, || python_tests(&ctx.root, &debug, &work))?;
    steps.run(KOTLIN, || kotlin_test(&ctx.root, &debug, &work))
}

/// Cargo's target directory (honours `CARGO_TARGET_DIR`).
fn target_dir(root: &Path) -> Result<PathBuf> {
    let json =
        step::stdout(step::cargo(root).args(["metadata", "--no-deps", "--format-version", "1"]))?;
    let meta: serde_json::Value = serde_json::from_str(&json).context("cargo metadata's JSON")?;
    meta["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata has no target_directory")
}

/// A fresh, empty directory.
fn fresh_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

fn c_test(root: &Path, debug: &Path, work: &Path) -> Result<()> {
    setup::apt_install(&["valgrind"])?;
    let c = root.join("bindings/c");
    let exe = work.join("sync_two_replicas");
    let data = work.join("c-data");
    fresh_dir(&data)?;
    step::run(
        Command::new("cc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-o"])
            .arg(&exe)
            .arg(c.join("tests/c/sync_two_replicas.c"))
            .arg("-I")
            .arg(c.join("include"))
            .arg(debug.join("libpolyarch_c.a"))
            .args(["-lpthread", "-ldl", "-lm"]),
    )?;
    step::run(
        Command::new("valgrind")
            .args([
                "--error-exitcode=99",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect",
                "--quiet",
            ])
            .arg(&exe)
            .arg(&data),
    )
}

fn python_tests(root: &Path, debug: &Path, work: &Path) -> Result<()> {
    let uniffi = root.join("bindings/uniffi");
    let venv = work.join("venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        if !step::succeeds(Command::new("python3").args(["-c", "import venv, ensurepip"])) {
            setup::apt_install(&["python3-venv"])?;
        }
        step::run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    if !step::succeeds(Command::new(&python).args(["-c", "import pytest"])) {
        step::run(Command::new(&python).args(["-m", "pip", "install", "--quiet", "pytest"]))?;
    }
    let dist = work.join("dist");
    fresh_dir(&dist)?;
    let wheel = step::stdout(
        Command::new(&python)
            .arg(uniffi.join("python/build_wheel.py"))
            .arg("--lib")
            .arg(debug.join("libpolyarch_uniffi.so"))
            .arg("--bindgen")
            .arg(debug.join("uniffi-bindgen"))
            .arg("--out-dir")
            .arg(&dist),
    )?;
    step::run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--force-reinstall",
                "--no-deps",
            ])
            .arg(wheel.trim()),
    )?;
    step::run(
        Command::new(&python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(uniffi.join("tests/python"))
            .env("POLYARCH_RELAY", debug.join("polyarch-relay"))
            // Run from the work directory, so `import polyarch` finds the installed wheel.
            .current_dir(work),
    )
}

fn kotlin_test(root: &Path, debug: &Path, work: &Path) -> Result<()> {
    setup::apt_install(&["libjna-java"])?;
    let kotlinc = kotlin_compiler()?;
    let uniffi = root.join("bindings/uniffi");
    let generated = work.join("kotlin-src");
    fresh_dir(&generated)?;
    step::run(
        Command::new(debug.join("uniffi-bindgen"))
            .args([
                "generate",
                "--no-format",
                "--language",
                "kotlin",
                "--library",
            ])
            .arg(debug.join("libpolyarch_uniffi.so"))
            .arg("--out-dir")
            .arg(&generated),
    )?;
    let jar = work.join("kotlin-test.jar");
    step::run(
        Command::new(&kotlinc)
            .arg(uniffi.join("tests/kotlin/Main.kt"))
            .arg(generated.join("dev/polyarch/polyarch_uniffi.kt"))
            .args(["-cp", JNA_JAR, "-include-runtime", "-nowarn", "-d"])
            .arg(&jar),
    )?;
    let data = work.join("kotlin-data");
    fresh_dir(&data)?;
    let classpath = format!("{}:{JNA_JAR}", jar.display());
    step::run(
        Command::new("java")
            .arg(format!("-Djna.library.path={}", debug.display()))
            .args(["-cp", &classpath, "MainKt"])
            .arg(&data),
    )
}

/// `kotlinc` from the npm package `kotlin-compiler`, unpacked once into the tools directory.
fn kotlin_compiler() -> Result<PathBuf> {
    let dir = setup::tools_dir().join(format!("kotlin-compiler-{KOTLIN_COMPILER}"));
    let kotlinc = dir.join("package/bin/kotlinc");
    if kotlinc.exists() {
        return Ok(kotlinc);
    }
    fresh_dir(&dir)?;
    let tarball = step::stdout(
        Command::new("npm")
            .args(["pack", "--silent"])
            .arg(format!("kotlin-compiler@{KOTLIN_COMPILER}"))
            .current_dir(&dir),
    )?;
    step::run(
        Command::new("tar")
            .arg("xzf")
            .arg(tarball.trim())
            .current_dir(&dir),
    )?;
    for entry in std::fs::read_dir(dir.join("package/bin"))? {
        let path = entry?.path();
        step::run(Command::new("chmod").arg("+x").arg(&path))?;
    }
    std::fs::remove_file(dir.join(tarball.trim())).ok();
    Ok(kotlinc)
}
