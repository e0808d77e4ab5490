//! `MapHandle`: a map whose values are other CRDTs or scalars.

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::Target;
use crate::convert;

/// A map. Its values are reached through handles at longer paths
/// (`repo.register(doc, ["events", "e1", "title"])`).
#[wasm_bindgen]
pub struct MapHandle {
    target: Target,
}

impl MapHandle {
    pub(crate) fn new(target: Target) -> Self {
        Self { target }
    }
}

#[wasm_bindgen]
impl MapHandle {
    /// The keys, sorted.
    #[wasm_bindgen(getter)]
    pub fn keys(&self) -> Result<Array, JsValue> {
        let ks = self.target.read(|v, p| v.map(p).keys())?;
        Ok(convert::strings(&ks))
    }

    /// Number of keys.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> Result<usize, JsValue> {
        self.target.read(|v, p| v.map(p).len())
    }

    /// Whether `key` is present.
    pub fn has(&self, key: &str) -> Result<bool, JsValue> {
        self.target.read(|v, p| v.map(p).contains_key(key))
    }

    /// Creates the map if missing; returns the receipt.
    pub fn create(&self) -> Result<JsValue, JsValue> {
        self.target.write(|tx, p| tx.map(p).create())
    }

    /// Deletes a key; returns the receipt.
    pub fn delete(&self, key: &str) -> Result<JsValue, JsValue> {
        self.target.write(|tx, p| tx.map(p).delete(key))
    }
}
