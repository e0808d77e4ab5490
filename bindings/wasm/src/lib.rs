//! Polyarch for JavaScript: the wasm-bindgen bindings behind the `polyarch` npm package.
//!
//! Built on polyarch's public Rust API only. One file per exported JS class:
//! [`repo::Repo`], [`transaction::Transaction`], the typed handles in [`handles`]
//! (`RegisterHandle`, `CounterHandle`, `SetHandle`, `TextHandle`, `MapHandle`, `ListHandle`) and
//! [`session::SyncSession`]. Errors reach JS as real `Error` objects with `name ===
//! "PolyarchError"` and a stable `code` ([`error`]).
//!
//! Text positions are UTF-16 code units, as JavaScript strings count them
//! (`RepoConfig::text_units = TextUnits::Utf16`).
//!
//! Reads and writes are synchronous; only opening a repo is a Promise. Subscribers are called
//! after a change or an import has been applied, never in the middle of one, and a throwing
//! subscriber is reported (to the repo's `onError`, else `console.error`) and never breaks the
//! library.
#![deny(missing_docs)]

mod convert;
pub mod error;
mod gathering;
pub mod handles;
pub mod repo;
pub mod session;
mod storage;
pub mod transaction;
