//! Typed handles: one CRDT at one path of one document, with synchronous reads and writes.
//! Each write is its own atomic change and returns its receipt; batch writes with
//! `repo.change`. Reading a document that does not exist throws `NO_SUCH_DOC`.

mod counter;
mod list;
mod map;
mod register;
mod set;
mod text;

use std::rc::Rc;

use polyarch::{DocId, DocView, ModelError, Path, Tx};
use wasm_bindgen::prelude::*;

pub use counter::CounterHandle;
pub use list::ListHandle;
pub use map::MapHandle;
pub use register::RegisterHandle;
pub use set::SetHandle;
pub use text::TextHandle;

use crate::{convert, error, repo::Shared};

/// Where a handle points.
pub(crate) struct Target {
    pub(crate) shared: Rc<Shared>,
    pub(crate) doc: DocId,
    pub(crate) path: Path,
}

impl Target {
    /// Reads through a view of the document.
    fn read<T>(
        &self,
        f: impl FnOnce(&DocView<'_>, &Path) -> Result<T, ModelError>,
    ) -> Result<T, JsValue> {
        self.shared.with(|r| {
            let got = r
                .view(&self.doc, |v| f(v, &self.path))
                .map_err(error::core)?;
            got.map_err(|e| error::core(e.into()))
        })
    }

    /// One atomic change; returns its receipt (or `null` if it changed nothing).
    fn write(
        &self,
        f: impl FnOnce(&mut Tx<'_>, &Path) -> Result<(), ModelError>,
    ) -> Result<JsValue, JsValue> {
        self.shared.with(|r| {
            let done = r
                .change(&self.doc, |tx| f(tx, &self.path))
                .map_err(error::core)?;
            Ok(done
                .receipt
                .as_ref()
                .map_or(JsValue::NULL, convert::receipt))
        })
    }
}

/// An index from JS.
fn index(n: f64) -> Result<usize, JsValue> {
    if n.fract() == 0.0 && n >= 0.0 {
        Ok(n as usize)
    } else {
        Err(error::invalid("a non-negative integer index"))
    }
}
