//! `ListHandle`: a list of scalars.

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::{Target, index};
use crate::convert;

/// A list of scalars (strings, numbers, booleans, null, bytes, dates).
#[wasm_bindgen]
pub struct ListHandle {
    target: Target,
}

impl ListHandle {
    pub(crate) fn new(target: Target) -> Self {
        Self { target }
    }
}

#[wasm_bindgen]
impl ListHandle {
    /// The elements.
    #[wasm_bindgen(getter)]
    pub fn values(&self) -> Result<Array, JsValue> {
        let vs = self.target.read(|v, p| v.list(p).values())?;
        Ok(convert::values(&vs))
    }

    /// Number of elements.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> Result<usize, JsValue> {
        self.target.read(|v, p| v.list(p).len())
    }

    /// The element at `index`, `undefined` past the end.
    pub fn get(&self, index_: f64) -> Result<JsValue, JsValue> {
        let i = index(index_)?;
        let v = self.target.read(|v, p| v.list(p).get(i))?;
        Ok(v.as_ref().map_or(JsValue::UNDEFINED, convert::to_js))
    }

    /// Appends; returns the receipt.
    pub fn push(&self, value: JsValue) -> Result<JsValue, JsValue> {
        let value = convert::value(&value)?;
        self.target.write(|tx, p| tx.list(p).push(value))
    }

    /// Inserts at `index`; returns the receipt.
    pub fn insert(&self, index_: f64, value: JsValue) -> Result<JsValue, JsValue> {
        let (i, value) = (index(index_)?, convert::value(&value)?);
        self.target.write(|tx, p| tx.list(p).insert(i, value))
    }

    /// Replaces the element at `index`; returns the receipt.
    pub fn set(&self, index_: f64, value: JsValue) -> Result<JsValue, JsValue> {
        let (i, value) = (index(index_)?, convert::value(&value)?);
        self.target.write(|tx, p| tx.list(p).set(i, value))
    }

    /// Deletes the element at `index`; returns the receipt.
    pub fn delete(&self, index_: f64) -> Result<JsValue, JsValue> {
        let i = index(index_)?;
        self.target.write(|tx, p| tx.list(p).delete(i))
    }
}
