//! `cargo xtask bindings`: everything a native app embeds, in `target/bindings/`.
//!
//! 1. builds `polyarch-uniffi` (its libraries and its pinned `uniffi-bindgen`) and
//!    `polyarch-c`, release unless `--debug`;
//! 2. [`generate`]s from what was built:
//!    - `swift/`: `polyarch_uniffi.swift`, the C header `polyarch_uniffiFFI.h` and its module
//!      map (`uniffi-bindgen --language swift`);
//!    - `kotlin/`: `dev/polyarch/polyarch_uniffi.kt` (`--language kotlin`);
//!    - `python/`: the `polyarch` wheel (`bindings/uniffi/python/build_wheel.py`);
//!    - `lib/`: `libpolyarch_uniffi` and `libpolyarch_c`, shared and static;
//!    - `c/include/polyarch.h`: the C header;
//! 3. prints every file it wrote, with its size.
//!
//! The native test suite (`suites/native.rs`) calls the same [`generate`] on its debug build
//! and tests what it produced, so the outputs of this command are the ones tested.

use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::step::{self, Steps};
use crate::wasm;

/// The libraries a native app links, by crate library name.
const LIBS: [&str; 2] = ["polyarch_uniffi", "polyarch_c"];

/// Options of `cargo xtask bindings`.
#[derive(clap::Args)]
pub struct Options {
    /// Build the debug profile instead of release (quicker, larger, unoptimised).
    #[arg(long)]
    debug: bool,
}

/// What [`generate`] wrote, for the callers that go on to use it.
pub struct Bindings {
    /// The output directory; everything below is in it.
    pub dir: PathBuf,
    /// The generated Kotlin source.
    pub kotlin: PathBuf,
    /// The Python wheel.
    pub wheel: PathBuf,
    /// The directory of the shared and static libraries.
    pub lib: PathBuf,
    /// The directory holding `polyarch.h`.
    pub include: PathBuf,
}

/// `cargo xtask bindings`.
pub fn run(root: &Path, opts: &Options) -> Result<()> {
    let profile = if opts.debug { "debug" } else { "release" };
    let mut steps = Steps::new();
    let result = (|| {
        let built = steps.run(&format!("build native libraries ({profile})"), || {
            build(root, !opts.debug)
        })?;
        let out = step::target_dir(root)?.join("bindings");
        let bindings = steps.run("generate into target/bindings", || {
            generate(root, &built, &out, Path::new("python3"))
        })?;
        report(&bindings.dir)
    })();
    steps.summary();
    result
}

/// Builds both crates; returns the profile's output directory (`target/release`, ...).
fn build(root: &Path, release: bool) -> Result<PathBuf> {
    let mut cmd = step::cargo(root);
    cmd.args(["build", "-p", "polyarch-uniffi", "-p", "polyarch-c"]);
    if release {
        cmd.arg("--release");
    }
    step::run(&mut cmd)?;
    Ok(step::target_dir(root)?.join(if release { "release" } else { "debug" }))
}

/// Fills `out` (emptied first) from the libraries and `uniffi-bindgen` in `built`, a profile
/// directory where both crates were built; `python` runs the wheel script.
pub fn generate(root: &Path, built: &Path, out: &Path, python: &Path) -> Result<Bindings> {
    step::fresh_dir(out)?;
    let uniffi_lib = built.join(format!("{DLL_PREFIX}polyarch_uniffi{DLL_SUFFIX}"));
    let bindgen = built.join("uniffi-bindgen");
    for language in ["swift", "kotlin"] {
        step::run(
            Command::new(&bindgen)
                .args(["generate", "--no-format", "--language", language])
                .arg("--library")
                .arg(&uniffi_lib)
                .arg("--out-dir")
                .arg(out.join(language)),
        )?;
    }
    let wheel = step::stdout(
        Command::new(python)
            .arg(root.join("bindings/uniffi/python/build_wheel.py"))
            .arg("--lib")
            .arg(&uniffi_lib)
            .arg("--bindgen")
            .arg(&bindgen)
            .arg("--out-dir")
            .arg(out.join("python")),
    )?;
    let lib = out.join("lib");
    fs::create_dir_all(&lib)?;
    for name in LIBS {
        for file in [
            format!("{DLL_PREFIX}{name}{DLL_SUFFIX}"),
            format!("lib{name}.a"),
        ] {
            copy(&built.join(&file), &lib.join(&file))?;
        }
    }
    let include = out.join("c/include");
    fs::create_dir_all(&include)?;
    copy(
        &root.join("bindings/c/include/polyarch.h"),
        &include.join("polyarch.h"),
    )?;
    Ok(Bindings {
        dir: out.to_path_buf(),
        kotlin: out.join("kotlin/dev/polyarch/polyarch_uniffi.kt"),
        wheel: PathBuf::from(wheel.trim()),
        lib,
        include,
    })
}

/// Puts `from` at `to`: a hard link when the file system allows it (the debug static
/// libraries are hundreds of MiB), a copy otherwise.
fn copy(from: &Path, to: &Path) -> Result<()> {
    if fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    fs::copy(from, to)
        .map(drop)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))
}

/// Prints every file below `dir` with its size.
fn report(dir: &Path) -> Result<()> {
    let mut files: Vec<(PathBuf, usize)> = Vec::new();
    walk(dir, &mut files)?;
    files.sort();
    println!("\n{}:", dir.display());
    for (path, size) in files {
        let shown = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .display()
            .to_string();
        println!("  {shown:<50} {:>10}", wasm::human(size));
    }
    Ok(())
}

fn walk(dir: &Path, files: &mut Vec<(PathBuf, usize)>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            walk(&entry.path(), files)?;
        } else {
            files.push((entry.path(), usize::try_from(meta.len())?));
        }
    }
    Ok(())
}
