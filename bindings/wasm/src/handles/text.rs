//! `TextHandle`: collaborative text, positions in UTF-16 code units.

use wasm_bindgen::prelude::*;

use super::{Target, index};
use crate::transaction::Op;

/// Collaborative text. Positions count UTF-16 code units, like JavaScript strings.
#[wasm_bindgen]
pub struct TextHandle {
    target: Target,
}

impl TextHandle {
    pub(crate) fn new(target: Target) -> Self {
        Self { target }
    }
}

#[wasm_bindgen]
impl TextHandle {
    /// The text.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_js_string(&self) -> Result<String, JsValue> {
        self.target.read(|v, p| v.text(p).to_string())
    }

    /// Its length in UTF-16 code units.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> Result<usize, JsValue> {
        self.target.read(|v, p| v.text(p).len())
    }

    /// Deletes `del` code units at `pos` and inserts `insert` there; returns the receipt.
    pub fn splice(&self, pos: f64, del: f64, insert: &str) -> Result<JsValue, JsValue> {
        let (pos, del) = (index(pos)?, index(del)?);
        let op = Op::Splice(self.target.path.clone(), pos, del, insert.to_owned());
        self.target.shared.change(self.target.doc.clone(), vec![op])
    }

    /// Makes the text equal `text` with the smallest edit; returns the receipt.
    pub fn update(&self, text: &str) -> Result<JsValue, JsValue> {
        self.target.write(|tx, p| tx.text(p).update(text))
    }

    /// A stable cursor at `pos`: it follows the character there through concurrent edits.
    pub fn cursor(&self, pos: f64) -> Result<String, JsValue> {
        let pos = index(pos)?;
        self.target.read(|v, p| v.text(p).cursor(pos))
    }

    /// Where a cursor from `cursor` points now.
    #[wasm_bindgen(js_name = cursorPosition)]
    pub fn cursor_position(&self, cursor: &str) -> Result<usize, JsValue> {
        self.target.read(|v, p| v.text(p).cursor_position(cursor))
    }
}
