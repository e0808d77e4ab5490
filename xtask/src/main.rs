//! Polyarch's task runner: `cargo xtask <command>` (the alias lives in `.cargo/config.toml`).
//!
//! - `test`: every check CI runs, in one command that also installs what it needs.
//! - `demo`: the collaborative calendar (`web-demo/`) with a relay, built as needed and served.
//! - `bench`: run the benchmarks (Rust, and the npm package's in Node) and print their results
//!   as a table.
//! - `wasm`: build a crate for `wasm32-unknown-unknown` and print the artifact's size.
//! - `fuzz`: run every cargo-fuzz target for a while.
//! - `npm`: build the `polyarch` npm package (`bindings/wasm`) and pack it into `target/npm/`.
//! - `bindings`: build the native libraries and generate what Swift, Kotlin, Python and C apps
//!   embed, into `target/bindings/`.
//!
//! Each command is a module; [`step`] prints headers and timings and names the failed step;
//! [`setup`] installs tools idempotently; [`wasm`] holds the wasm32 toolchain and build logic;
//! [`suites`] holds one file per test suite; [`web_demo`] builds and serves the calendar.

mod bench;
mod bindings;
mod fuzz;
mod js_bench;
mod npm;
mod setup;
mod step;
mod suites;
mod wasm;
mod web_demo;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Polyarch's build, test and release tasks.
#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every check CI runs: fmt, clippy, rustdoc, tests, benches compiled, the npm package (wasm32).
    Test(suites::Options),
    /// Run the collaborative calendar (`web-demo/`): build what is missing (the relay, the npm
    /// package, the app), serve it with a relay, print the URL; runs until stopped.
    Demo,
    /// Run the benchmarks (`cargo bench`, then the npm package against automerge, yjs and loro
    /// in Node), then print `target/polyarch-bench/*.json` as a table.
    Bench(bench::Options),
    /// Build a crate for wasm32-unknown-unknown and print the artifact's size, raw and gzipped.
    Wasm(wasm::Options),
    /// Run every cargo-fuzz target in `fuzz/` for a fixed time (needs nightly Rust).
    Fuzz(fuzz::Options),
    /// Build the `polyarch` npm package (`bindings/wasm`), print the wasm size, `npm pack` it
    /// into `target/npm/`; `--test` then runs its Node tests against the tarball.
    Npm(npm::Options),
    /// Build the native libraries (release unless `--debug`) and write into `target/bindings/`
    /// the Swift and Kotlin sources, the Python wheel, the libraries and the C header.
    Bindings(bindings::Options),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = repo_root();
    let result = match cli.command {
        Command::Test(opts) => suites::run(&root, &opts),
        Command::Demo => web_demo::run(&root),
        Command::Bench(opts) => bench::run(&root, &opts),
        Command::Wasm(opts) => wasm::run(&root, &opts),
        Command::Fuzz(opts) => fuzz::run(&root, &opts),
        Command::Npm(opts) => npm::run(&root, &opts),
        Command::Bindings(opts) => bindings::run(&root, &opts),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nxtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's directory.
fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map_or(manifest.clone(), PathBuf::from)
}
