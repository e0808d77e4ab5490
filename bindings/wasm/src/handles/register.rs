//! `RegisterHandle`: a value that keeps every concurrent write as a visible conflict.

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::Target;
use crate::convert;

/// A register: `value` is the winning value (or `undefined` if unset); `conflicts` holds every
/// concurrent value, so the app can show them and let someone pick (`set` resolves).
#[wasm_bindgen]
pub struct RegisterHandle {
    target: Target,
}

impl RegisterHandle {
    pub(crate) fn new(target: Target) -> Self {
        Self { target }
    }
}

#[wasm_bindgen]
impl RegisterHandle {
    /// The current value, `undefined` if never set.
    #[wasm_bindgen(getter)]
    pub fn value(&self) -> Result<JsValue, JsValue> {
        let v = self.target.read(|v, p| v.register(p).get())?;
        Ok(v.as_ref().map_or(JsValue::UNDEFINED, convert::to_js))
    }

    /// Every concurrent value (one when there is no conflict, none when unset).
    #[wasm_bindgen(getter)]
    pub fn conflicts(&self) -> Result<Array, JsValue> {
        let vs = self.target.read(|v, p| v.register(p).conflicts())?;
        Ok(convert::values(&vs))
    }

    /// Sets the value (resolving any conflict); returns the receipt.
    pub fn set(&self, value: JsValue) -> Result<JsValue, JsValue> {
        let value = convert::value(&value)?;
        self.target.write(|tx, p| tx.register(p).set(value))
    }
}
