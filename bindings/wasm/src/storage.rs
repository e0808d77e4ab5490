//! Where a repo keeps its SQLite database: in memory, or (on wasm32, in a dedicated Worker)
//! in the Origin Private File System through `sqlite-wasm-vfs`'s `sahpool` VFS.
//!
//! The VFS is chosen by target, not by a cargo feature: native builds (tests) only know memory.
//! `sahpool` supports neither WAL nor concurrent connections; the core store accepts the
//! journal mode the VFS keeps, and Web Locks in the JS layer keep one connection per repo
//! name. Each name has its own pool (OPFS directory `.polyarch-<name>`), so replicas of
//! different names open side by side in one origin.

use polyarch::{Repo, RepoConfig};
use wasm_bindgen::JsValue;

use crate::error::{self, BindingError};

/// A storage kind from `Repo.open({ storage })`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// In memory: gone when the repo is dropped.
    Memory,
    /// SQLite on OPFS (dedicated Workers only).
    Opfs,
}

impl Storage {
    /// `"memory"` or `"opfs"`.
    pub fn parse(s: &str) -> Result<Self, JsValue> {
        match s {
            "memory" => Ok(Storage::Memory),
            "opfs" => Ok(Storage::Opfs),
            _ => Err(error::invalid("`storage` to be \"memory\" or \"opfs\"")),
        }
    }
}

/// Opens a repo on `storage`: a copy of `image` (as a new device) if one is given, in memory
/// only (a new OPFS file from an image would need a VFS that can import one).
pub async fn open(
    storage: Storage,
    name: &str,
    image: Option<&[u8]>,
    config: RepoConfig,
) -> Result<Repo, JsValue> {
    match (storage, image) {
        (Storage::Memory, None) => Repo::in_memory(config).map_err(error::core),
        (Storage::Memory, Some(image)) => {
            Repo::from_image(image, None, config).map_err(error::core)
        }
        (Storage::Opfs, None) => opfs(name, config).await,
        (Storage::Opfs, Some(_)) => Err(error::invalid(
            "`image` with `storage: \"memory\"` (an image opens in memory only)",
        )),
    }
}

/// The files a pool holds: the database and its rollback journal. `sahpool` cannot do WAL,
/// and in the store's exclusive locking mode SQLite keeps the journal file between
/// transactions; temporary files (statement journals, sorts, `VACUUM`'s copy) stay in memory,
/// as `sqlite-wasm-rs` builds SQLite with `SQLITE_TEMP_STORE=2`. Opening the pool acquires an
/// OPFS sync access handle per file, one after another, before the database's first read:
/// `sahpool`'s default of 6 files made a page load 7-16 ms slower than these 2.
#[cfg(target_arch = "wasm32")]
const POOL_FILES: usize = 2;

#[cfg(target_arch = "wasm32")]
async fn opfs(name: &str, config: RepoConfig) -> Result<Repo, JsValue> {
    use sqlite_wasm_rs::WasmOsCallback;
    use sqlite_wasm_vfs::sahpool::{OpfsSAHPoolCfgBuilder, install};

    // One pool (OPFS directory and VFS) per repo name: a pool is held by one connection at a
    // time, so two replicas of one origin (two "devices" in one browser profile) each need
    // their own. Installing a pool that is installed already reuses it.
    let cfg = OpfsSAHPoolCfgBuilder::new()
        .vfs_name(&format!("polyarch-{name}"))
        .directory(&format!(".polyarch-{name}"))
        .initial_capacity(POOL_FILES)
        .build();
    let pool = install::<WasmOsCallback>(&cfg, true).await.map_err(|e| {
        BindingError::StorageUnavailable {
            why: format!(
                "OPFS needs a dedicated Worker in a secure context, and one tab at a time ({e:?})"
            ),
        }
    })?;
    // A pool made with more files (before POOL_FILES) gives its unused ones back, once. Best
    // effort: a pool that keeps them works the same, it only opens more slowly.
    let surplus = pool.capacity().saturating_sub(POOL_FILES);
    if surplus > 0 {
        let _ = pool.reduce_capacity(surplus).await;
    }
    Repo::open(format!("/{name}.polyarch"), config).map_err(error::core)
}

#[cfg(not(target_arch = "wasm32"))]
async fn opfs(_name: &str, _config: RepoConfig) -> Result<Repo, JsValue> {
    Err(BindingError::StorageUnavailable {
        why: "OPFS exists only in browsers (in a dedicated Worker)".into(),
    }
    .into())
}
