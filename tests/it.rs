//! The integration tests: one binary, one module per behaviour (files in `tests/it/`), and the
//! shared harness in `tests/it/support/`.
//!
//! Modules are declared with `#[path]` so that they live in `tests/it/` while this file stays
//! the crate root. A file loaded that way resolves its own `mod x;` next to it (as a `mod.rs`
//! does), so a behaviour's submodules need a `#[path]` too.

#[path = "it/support/mod.rs"]
mod support;

#[path = "it/acknowledgements_wait_for_a_frame.rs"]
mod acknowledgements_wait_for_a_frame;
#[cfg(feature = "cli")]
#[path = "it/cli.rs"]
mod cli;
#[cfg(feature = "cli")]
#[path = "it/cli_edit.rs"]
mod cli_edit;
#[cfg(all(feature = "cli", feature = "relay"))]
#[path = "it/cli_network.rs"]
mod cli_network;
#[path = "it/concurrent_containers.rs"]
mod concurrent_containers;
#[path = "it/concurrent_typing.rs"]
mod concurrent_typing;
#[path = "it/convergence_under_faults.rs"]
mod convergence_under_faults;
#[path = "it/corrupt_store.rs"]
mod corrupt_store;
#[path = "it/durability_kill9.rs"]
mod durability_kill9;
#[path = "it/forged_changes.rs"]
mod forged_changes;
#[path = "it/hostile_input.rs"]
mod hostile_input;
#[cfg(all(feature = "cli", feature = "relay"))]
#[path = "it/peers_over_tls.rs"]
mod peers_over_tls;
#[path = "it/receipts_and_tokens.rs"]
mod receipts_and_tokens;
#[cfg(feature = "relay")]
#[path = "it/relay_auth.rs"]
mod relay_auth;
#[cfg(feature = "relay")]
#[path = "it/relay_delayed_acknowledgements.rs"]
mod relay_delayed_acknowledgements;
#[cfg(feature = "relay")]
#[path = "it/relay_hostile.rs"]
mod relay_hostile;
#[cfg(all(feature = "relay", feature = "cli"))]
#[path = "it/relay_kill9.rs"]
mod relay_kill9;
#[cfg(feature = "relay")]
#[path = "it/relay_postgres.rs"]
mod relay_postgres;
#[cfg(feature = "relay")]
#[path = "it/relay_store.rs"]
mod relay_store;
#[cfg(feature = "relay")]
#[path = "it/relay_support.rs"]
mod relay_support;
#[cfg(feature = "relay")]
#[path = "it/relay_sync.rs"]
mod relay_sync;
#[cfg(all(feature = "relay", feature = "cli"))]
#[path = "it/relay_tls.rs"]
mod relay_tls;
#[path = "it/replica_image.rs"]
mod replica_image;
#[path = "it/resume_and_resync.rs"]
mod resume_and_resync;
