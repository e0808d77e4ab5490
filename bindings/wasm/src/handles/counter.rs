//! `CounterHandle`: a number that concurrent increments add up in.

use wasm_bindgen::prelude::*;

use super::Target;

/// A counter: concurrent increments all count.
#[wasm_bindgen]
pub struct CounterHandle {
    target: Target,
}

impl CounterHandle {
    pub(crate) fn new(target: Target) -> Self {
        Self { target }
    }
}

#[wasm_bindgen]
impl CounterHandle {
    /// The current value (0 if never incremented).
    #[wasm_bindgen(getter)]
    pub fn value(&self) -> Result<f64, JsValue> {
        Ok(self.target.read(|v, p| v.counter(p).value())? as f64)
    }

    /// Adds `by` (default 1, may be negative); returns the receipt.
    pub fn increment(&self, by: Option<f64>) -> Result<JsValue, JsValue> {
        let by = by.unwrap_or(1.0);
        if by.fract() != 0.0 {
            return Err(crate::error::invalid("an integer increment"));
        }
        self.target
            .write(|tx, p| tx.counter(p).increment(by as i64))
    }
}
