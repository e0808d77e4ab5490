//! `cargo xtask npm`: the `polyarch` npm package, built from `bindings/wasm`.
//!
//! 1. builds the `polyarch-wasm` cdylib for wasm32 (release: `lto`, `codegen-units = 1`, and
//!    `opt-level = "z"` for size but 3 for automerge's column storage; SQLite without the
//!    features Polyarch does not use), with the toolchain [`crate::wasm`] finds or installs;
//! 2. runs the wasm-bindgen CLI pinned to Cargo.lock (`--target web`: one ES module that loads
//!    in browsers, bundlers and, given the bytes, Node);
//! 3. shrinks the module with `wasm-opt -Os` from the npm package `binaryen` (best effort:
//!    skipped with a warning if it cannot be installed);
//! 4. assembles the package in `target/npm/pkg`: the generated glue in `dist/`, the
//!    hand-written entry points and types from `bindings/wasm/js/`, and a `package.json` with an
//!    `exports` map (types first; node / browser / import);
//! 5. prints the wasm size, raw and gzipped, and `npm pack`s `target/npm/polyarch-<v>.tgz`.
//!
//! `--test` then installs that tarball into a fresh project (`target/npm/test-node`) and runs
//! `bindings/wasm/tests/node/*.test.mjs` with `node --test`, and `tsc --noEmit` over
//! `bindings/wasm/tests/types/*.ts`. The Node tests get the native `polyarch` CLI (built here)
//! in `POLYARCH_CLI`, to prove that replica files cross between the native library and the
//! package, and run with `--experimental-websocket` (Node 20's WebSocket client, to sync with
//! the CLI's peer server).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::step::{self, Steps};
use crate::{setup, wasm};

/// The crate behind the package.
const CRATE: &str = "polyarch-wasm";
/// The package's name on npm.
const PACKAGE: &str = "polyarch";
/// The size budget of the gzipped wasm: 1 MB.
const GZIP_BUDGET: usize = 1_000_000;
/// SQLite features `sqlite-wasm-rs` compiles in that Polyarch never uses: full-text search,
/// R-trees, sessions and their pre-update hook, the introspection virtual tables, math and
/// JSON SQL functions, column metadata. Leaving them out takes about 100 KB off the gzipped
/// module (1,040,510 -> 933,132 bytes when this was measured).
const SQLITE_FLAGS: &str = "-USQLITE_ENABLE_FTS5 -USQLITE_ENABLE_RTREE -USQLITE_ENABLE_SESSION \
     -USQLITE_ENABLE_PREUPDATE_HOOK -USQLITE_ENABLE_DBSTAT_VTAB -USQLITE_ENABLE_BYTECODE_VTAB \
     -USQLITE_ENABLE_DBPAGE_VTAB -USQLITE_ENABLE_STMTVTAB -USQLITE_ENABLE_MATH_FUNCTIONS \
     -USQLITE_ENABLE_UNKNOWN_SQL_FUNCTION -USQLITE_ENABLE_OFFSET_SQL_FUNC \
     -USQLITE_ENABLE_COLUMN_METADATA -DSQLITE_OMIT_JSON";
/// Packages built for speed (`opt-level = 3`) in a module otherwise built for size: hexane,
/// automerge's column storage, where its hot loops live. Measured on the first 30,000
/// keystrokes of the automerge-paper trace in Node (`bench/run.mjs --child trace --library
/// polyarch --limit 30000`, 2 runs a side): local apply 2.71-2.75 s -> 2.41-2.44 s, for 11 KB
/// more gzipped (947,433 -> 958,419 bytes). automerge itself at `opt-level = "s"` as well took
/// apply to 2.15-2.21 s but the module to 1,016,555 bytes, over the budget; both at 3, to
/// 1,147,610.
const FAST_PACKAGES: &[(&str, &str)] = &[("hexane", "3")];
/// The binaryen release whose `wasm-opt` is used.
const BINARYEN: &str = "binaryen@132";
/// TypeScript for `tsc --noEmit` over the typed usage examples.
const TYPESCRIPT: &str = "typescript@5";

/// Options of `cargo xtask npm`.
#[derive(clap::Args)]
pub struct Options {
    /// Skip wasm-opt.
    #[arg(long)]
    no_wasm_opt: bool,
    /// Then run the Node tests against the packed tarball.
    #[arg(long)]
    test: bool,
}

/// `cargo xtask npm`.
pub fn run(root: &Path, opts: &Options) -> Result<()> {
    let mut steps = Steps::new();
    let result = (|| {
        let tarball = build(root, &mut steps, !opts.no_wasm_opt)?;
        if opts.test {
            test_node(root, &mut steps, &tarball)?;
        }
        Ok(())
    })();
    steps.summary();
    result
}

/// Builds and packs the package; returns the tarball's path.
pub fn build(root: &Path, steps: &mut Steps, wasm_opt: bool) -> Result<PathBuf> {
    let tc = steps.run("wasm32 toolchain", wasm::ensure_toolchain)?;
    let spec = wasm::Build {
        package: CRATE,
        release: true,
        opt_level: Some("z"),
        package_opt_levels: FAST_PACKAGES,
        sqlite_flags: Some(SQLITE_FLAGS),
    };
    let artifact = steps.run(
        &format!("wasm32 build: {CRATE} (opt-level z, hexane 3)"),
        || wasm::build(root, tc, &spec),
    )?;
    let cli = steps.run("wasm-bindgen-cli (pinned)", || {
        wasm::ensure_bindgen_cli(root)
    })?;
    let out = root.join("target/npm");
    let pkg = out.join("pkg");
    if pkg.exists() {
        fs::remove_dir_all(&pkg).with_context(|| format!("cannot clear {}", pkg.display()))?;
    }
    let dist = pkg.join("dist");
    steps.run("wasm-bindgen --target web", || {
        wasm::bindgen(&cli, &artifact, "web", &dist)
    })?;
    let module = dist.join("polyarch_wasm_bg.wasm");
    if wasm_opt {
        let optimized = steps.run("wasm-opt -Os (npm binaryen)", || match ensure_wasm_opt() {
            Ok(bin) => run_wasm_opt(&bin, &module).map(|()| true),
            Err(e) => {
                println!("warning: wasm-opt unavailable, shipping the module as built: {e:#}");
                Ok(false)
            }
        })?;
        if !optimized {
            println!("(wasm-opt skipped)");
        }
    }
    steps.run("assemble package", || assemble(root, &pkg))?;
    let gzipped = wasm::report_size(&module)?;
    if gzipped > GZIP_BUDGET {
        println!(
            "warning: the gzipped wasm is {gzipped} bytes, over the {GZIP_BUDGET}-byte budget"
        );
    }
    steps.run("npm pack", || pack(&pkg, &out))
}

/// `wasm-opt` from the npm package `binaryen`, installed once under the tools directory.
fn ensure_wasm_opt() -> Result<PathBuf> {
    let dir = setup::tools_dir().join(BINARYEN.replace('@', "-"));
    let bin = dir.join("node_modules/.bin/wasm-opt");
    if step::succeeds(Command::new(&bin).arg("--version")) {
        return Ok(bin);
    }
    fs::create_dir_all(&dir)?;
    fs::write(dir.join("package.json"), "{\"private\":true}\n")?;
    step::run(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", BINARYEN])
            .current_dir(&dir),
    )?;
    anyhow::ensure!(
        step::succeeds(Command::new(&bin).arg("--version")),
        "{} does not run",
        bin.display()
    );
    Ok(bin)
}

/// `wasm-opt -Os` in place, with the features rustc's wasm32 output uses.
fn run_wasm_opt(bin: &Path, module: &Path) -> Result<()> {
    let tmp = module.with_extension("opt.wasm");
    step::run(
        Command::new(bin)
            .arg(module)
            .args([
                "-Os",
                "--enable-bulk-memory",
                "--enable-nontrapping-float-to-int",
            ])
            .args([
                "--enable-sign-ext",
                "--enable-mutable-globals",
                "--enable-reference-types",
            ])
            .args(["--enable-multivalue", "-o"])
            .arg(&tmp),
    )?;
    fs::rename(&tmp, module)?;
    Ok(())
}

/// Copies the hand-written entry points and types, and writes `package.json`.
fn assemble(root: &Path, pkg: &Path) -> Result<()> {
    let js = root.join("bindings/wasm/js");
    for entry in fs::read_dir(&js).with_context(|| format!("cannot read {}", js.display()))? {
        let path = entry?.path();
        if path.is_file() {
            let name = path.file_name().context("a file name")?;
            fs::copy(&path, pkg.join(name))?;
        }
    }
    // wasm-bindgen's own .gitignore would keep the glue out of the tarball.
    let _ = fs::remove_file(pkg.join("dist/.gitignore"));
    let _ = fs::remove_file(pkg.join("dist/package.json"));
    let version = crate_version(root)?;
    // Written by hand, not through serde_json (whose maps sort their keys): the order of the
    // `exports` conditions is what resolvers follow, types first. `sideEffects` names the entry
    // points whose top level does work (instantiating the wasm, the Worker's message handler):
    // with `false`, bundlers drop `index.js`'s set-up and `Repo.open` finds no module.
    let manifest = format!(
        r#"{{
  "name": "{PACKAGE}",
  "version": "{version}",
  "description": "Offline-first sync: typed CRDT documents in SQLite, in the browser and Node.",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "types": "./index.d.ts",
  "main": "./node.js",
  "module": "./index.js",
  "exports": {{
    ".": {{
      "types": "./index.d.ts",
      "node": "./node.js",
      "browser": "./index.js",
      "import": "./index.js",
      "default": "./index.js"
    }},
    "./package.json": "./package.json"
  }},
  "files": ["index.js", "node.js", "common.js", "browser.js", "slots.js", "views.js", "worker.js", "websocket.js", "index.d.ts", "README.md", "dist/"],
  "sideEffects": ["./index.js", "./node.js", "./worker.js"],
  "engines": {{ "node": ">=20" }}
}}
"#
    );
    fs::write(pkg.join("package.json"), manifest)?;
    Ok(())
}

/// The version in `bindings/wasm/Cargo.toml`.
fn crate_version(root: &Path) -> Result<String> {
    let toml = fs::read_to_string(root.join("bindings/wasm/Cargo.toml"))?;
    toml.lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .map(|v| v.trim_end_matches('"').to_owned())
        .context("no version in bindings/wasm/Cargo.toml")
}

/// `npm pack` into `out`; returns the tarball.
fn pack(pkg: &Path, out: &Path) -> Result<PathBuf> {
    let listing = step::stdout(
        Command::new("npm")
            .args(["pack", "--json", "--pack-destination"])
            .arg(out)
            .current_dir(pkg),
    )?;
    let json: serde_json::Value =
        serde_json::from_str(&listing).context("npm pack's JSON output")?;
    let file = json[0]["filename"]
        .as_str()
        .context("npm pack named no tarball")?;
    let tarball = out.join(file);
    println!("packed {}", tarball.display());
    Ok(tarball)
}

/// Installs `tarball` into a fresh project and runs the Node tests and `tsc --noEmit`.
pub fn test_node(root: &Path, steps: &mut Steps, tarball: &Path) -> Result<()> {
    let src = root.join("bindings/wasm/tests");
    let dir = root.join("target/npm/test-node");
    steps.run("npm: install the tarball into a fresh project", || {
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir)?;
        copy_dir(&src, &dir)?;
        fs::write(
            dir.join("package.json"),
            "{ \"name\": \"polyarch-node-tests\", \"private\": true, \"type\": \"module\" }\n",
        )?;
        step::run(
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--no-save"])
                .arg(tarball)
                .arg(TYPESCRIPT)
                .current_dir(&dir),
        )
    })?;
    let cli = steps.run("native CLI for the cross-format tests (polyarch)", || {
        step::cargo_bin(root, "polyarch")
    })?;
    steps.run("npm: node --test (against the tarball)", || {
        let tests = test_files(&dir.join("node"))?;
        step::run(
            Command::new("node")
                .arg("--test")
                .args(&tests)
                .env("POLYARCH_CLI", &cli)
                .env("NODE_OPTIONS", "--experimental-websocket")
                .current_dir(&dir),
        )
    })?;
    steps.run("npm: tsc --noEmit (typed usage)", || {
        step::run(
            Command::new("node")
                .args(["node_modules/typescript/bin/tsc", "--noEmit", "-p", "types"])
                .current_dir(&dir),
        )
    })
}

/// The `*.test.mjs` files of `dir`, sorted.
fn test_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no *.test.mjs in {}", dir.display());
    }
    Ok(files)
}

/// Copies a directory tree.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let path = entry?.path();
        let dest = to.join(path.file_name().context("a file name")?);
        if path.is_dir() {
            copy_dir(&path, &dest)?;
        } else {
            fs::copy(&path, &dest)?;
        }
    }
    Ok(())
}
