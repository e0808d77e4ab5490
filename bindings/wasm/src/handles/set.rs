//! `SetHandle`: an add-wins set of strings.

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::Target;
use crate::convert;

/// An observed-remove set of strings: an add concurrent with a remove wins.
#[wasm_bindgen]
pub struct SetHandle {
    target: Target,
}

impl SetHandle {
    pub(crate) fn new(target: Target) -> Self {
        Self { target }
    }
}

#[wasm_bindgen]
impl SetHandle {
    /// The members, sorted.
    #[wasm_bindgen(getter)]
    pub fn members(&self) -> Result<Array, JsValue> {
        let ms = self.target.read(|v, p| v.set(p).members())?;
        Ok(convert::strings(&ms))
    }

    /// Number of members.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> Result<usize, JsValue> {
        self.target.read(|v, p| v.set(p).len())
    }

    /// Whether `member` is in the set.
    pub fn has(&self, member: &str) -> Result<bool, JsValue> {
        self.target.read(|v, p| v.set(p).contains(member))
    }

    /// Adds a member; returns the receipt.
    pub fn add(&self, member: String) -> Result<JsValue, JsValue> {
        self.target.write(|tx, p| tx.set(p).add(member))
    }

    /// Removes a member (the adds this replica has seen); returns the receipt.
    pub fn delete(&self, member: &str) -> Result<JsValue, JsValue> {
        self.target.write(|tx, p| tx.set(p).remove(member))
    }
}
