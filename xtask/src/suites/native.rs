//! The native bindings, tested from the languages that embed them (see the README's "Native
//! apps"):
//!
//! Each test uses what [`bindings::generate`] (the generator behind `cargo xtask bindings`)
//! writes into `target/native-tests/bindings/`:
//!
//! - C: `bindings/c/tests/c/sync_two_replicas.c`, compiled with the system `cc` against
//!   `c/include/polyarch.h` and `lib/libpolyarch_c.a`, run under valgrind (no leaks, no
//!   invalid accesses).
//! - Python: the wheel in `python/` pip-installed into a venv with pytest, running
//!   `bindings/uniffi/tests/python` (a real `polyarch-relay` among them).
//! - Kotlin: the generated Kotlin in `kotlin/` and `bindings/uniffi/tests/kotlin/Main.kt`,
//!   compiled with the npm package `kotlin-compiler` and run on the JVM with Debian's JNA,
//!   loading `lib/libpolyarch_uniffi.so`.
//!
//! Everything reuses the workspace's debug build (same features as the test run, so nothing
//! is compiled twice). Tools are installed when missing: valgrind, python3-venv and
//! libjna-java from Debian, pytest from PyPI, kotlinc from npm (cached in [`setup::tools_dir`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use super::Ctx;
use crate::bindings::{self, Bindings};
use crate::setup;
use crate::step::{self, Steps};

/// The Kotlin compiler's npm package version (runs on Java 17).
const KOTLIN_COMPILER: &str = "2.4.20";

/// Where Debian's `libjna-java` puts the JNA jar.
const JNA_JAR: &str = "/usr/share/java/jna.jar";

/// Build the bindings and run the C, Python and Kotlin tests.
pub fn run(ctx: &Ctx, steps: &mut Steps) -> Result<()> {
    let target = steps.run("native bindings: build (debug, all features)", || {
        // Libraries and binaries of the whole workspace (the relay for the Python tests, the
        // bindgen), as the shared build selects them: nothing is compiled twice.
        step::run(step::cargo_build(&ctx.root).args(["--lib", "--bins"]))?;
        step::target_dir(&ctx.root)
    })?;
    let debug = target.join("debug");
    let work = target.join("native-tests");
    let generated = steps.run(
        "native bindings: generate (cargo xtask bindings, debug)",
        || {
            bindings::generate(
                &ctx.root,
                &debug,
                &work.join("bindings"),
                Path::new("python3"),
            )
        },
    )?;
    steps.run("C binding: sync_two_replicas under valgrind", || {
        c_test(&ctx.root, &generated, &work)
    })?;
    steps.run("Python binding: wheel + pytest (relay process)", || {
        python_tests(&ctx.root, &debug, &generated, &work)
    })?;
    steps.run("Kotlin binding: kotlinc + JVM", || {
        kotlin_test(&ctx.root, &generated, &work)
    })
}

fn c_test(root: &Path, generated: &Bindings, work: &Path) -> Result<()> {
    setup::apt_install(&["valgrind"])?;
    let c = root.join("bindings/c");
    let exe = work.join("sync_two_replicas");
    let data = work.join("c-data");
    step::fresh_dir(&data)?;
    step::run(
        Command::new("cc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-o"])
            .arg(&exe)
            .arg(c.join("tests/c/sync_two_replicas.c"))
            .arg("-I")
            .arg(&generated.include)
            .arg(generated.lib.join("libpolyarch_c.a"))
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

fn python_tests(root: &Path, debug: &Path, generated: &Bindings, work: &Path) -> Result<()> {
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
            .arg(&generated.wheel),
    )?;
    step::run(
        Command::new(&python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(root.join("bindings/uniffi/tests/python"))
            .env("POLYARCH_RELAY", debug.join("polyarch-relay"))
            // Run from the work directory, so `import polyarch` finds the installed wheel.
            .current_dir(work),
    )
}

fn kotlin_test(root: &Path, generated: &Bindings, work: &Path) -> Result<()> {
    setup::apt_install(&["libjna-java"])?;
    let kotlinc = kotlin_compiler()?;
    let jar = work.join("kotlin-test.jar");
    step::run(
        Command::new(&kotlinc)
            .arg(root.join("bindings/uniffi/tests/kotlin/Main.kt"))
            .arg(&generated.kotlin)
            .args(["-cp", JNA_JAR, "-include-runtime", "-nowarn", "-d"])
            .arg(&jar),
    )?;
    let data = work.join("kotlin-data");
    step::fresh_dir(&data)?;
    let classpath = format!("{}:{JNA_JAR}", jar.display());
    step::run(
        Command::new("java")
            .arg(format!("-Djna.library.path={}", generated.lib.display()))
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
    step::fresh_dir(&dir)?;
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
