//! What the integration tests share: a seeded, deterministic in-memory network of replicas
//! ([`SimNet`]) and a runner that names the failing seed.

mod net;

pub use net::{Faults, NetStats, SimNet};

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

/// Runs `run` once per seed. When a seed fails, prints it (and how to replay it alone) before
/// passing the panic on. `POLYARCH_SEED=n` replaces `seeds` with that one seed.
pub fn for_each_seed(test: &str, seeds: impl IntoIterator<Item = u64>, run: impl Fn(u64)) {
    let seeds: Vec<u64> =
        match std::env::var("POLYARCH_SEED") {
            Ok(s) => vec![s.trim().parse().unwrap_or_else(|_| {
                panic!("POLYARCH_SEED must be an unsigned integer, not {s:?}")
            })],
            Err(_) => seeds.into_iter().collect(),
        };
    for seed in seeds {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| run(seed))) {
            eprintln!(
                "\n{test}: seed {seed} FAILED; replay it alone with\n  \
                 POLYARCH_SEED={seed} POLYARCH_TRACE=1 cargo test --test it {test}\n"
            );
            resume_unwind(panic);
        }
    }
}

/// Whether `POLYARCH_TRACE` is set: tests then print every action they take.
pub fn tracing() -> bool {
    std::env::var_os("POLYARCH_TRACE").is_some()
}
