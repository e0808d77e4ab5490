//! `Transaction`: what a `repo.change(doc, tx => ...)` callback records.
//!
//! The callback runs before the core change starts; its operations are recorded, then applied
//! together in one atomic change when it returns. Reads made inside the callback (through the
//! repo) see the document as it was before the change.

use std::cell::RefCell;
use std::rc::Rc;

use polyarch::{ModelError, Path, Tx, Value};
use wasm_bindgen::prelude::*;

use crate::convert;

/// One recorded operation.
pub(crate) enum Op {
    SetRegister(Path, Value),
    Increment(Path, i64),
    AddToSet(Path, String),
    RemoveFromSet(Path, String),
    Splice(Path, usize, usize, String),
    UpdateText(Path, String),
    CreateMap(Path),
    DeleteKey(Path, String),
    Push(Path, Value),
    Insert(Path, usize, Value),
    SetIndex(Path, usize, Value),
    DeleteIndex(Path, usize),
}

impl Op {
    /// Applies the operation inside a core transaction.
    pub(crate) fn apply(&self, tx: &mut Tx<'_>) -> Result<(), ModelError> {
        match self {
            Op::SetRegister(p, v) => tx.register(p).set(v.clone()),
            Op::Increment(p, by) => tx.counter(p).increment(*by),
            Op::AddToSet(p, m) => tx.set(p).add(m.clone()),
            Op::RemoveFromSet(p, m) => tx.set(p).remove(m),
            Op::Splice(p, pos, del, ins) => tx.text(p).splice(*pos, *del, ins),
            Op::UpdateText(p, t) => tx.text(p).update(t),
            Op::CreateMap(p) => tx.map(p).create(),
            Op::DeleteKey(p, k) => tx.map(p).delete(k),
            Op::Push(p, v) => tx.list(p).push(v.clone()),
            Op::Insert(p, i, v) => tx.list(p).insert(*i, v.clone()),
            Op::SetIndex(p, i, v) => tx.list(p).set(*i, v.clone()),
            Op::DeleteIndex(p, i) => tx.list(p).delete(*i),
        }
    }
}

/// The operations of one atomic change, recorded by a `repo.change` callback. Paths are a key
/// or an array of keys and list indexes. Using a transaction after its callback returned
/// throws `INVALID_ARGUMENT`.
#[wasm_bindgen]
#[derive(Clone)]
pub struct Transaction {
    ops: Rc<RefCell<Option<Vec<Op>>>>,
}

impl Transaction {
    pub(crate) fn new() -> Self {
        Transaction {
            ops: Rc::new(RefCell::new(Some(Vec::new()))),
        }
    }

    /// Ends recording and returns the operations.
    pub(crate) fn finish(&self) -> Vec<Op> {
        self.ops.borrow_mut().take().unwrap_or_default()
    }

    fn push(&self, op: Op) -> Result<(), JsValue> {
        match self.ops.borrow_mut().as_mut() {
            Some(ops) => {
                ops.push(op);
                Ok(())
            }
            None => Err(crate::error::invalid(
                "a transaction still inside its change callback",
            )),
        }
    }
}

fn index(n: f64) -> Result<usize, JsValue> {
    if n.fract() == 0.0 && n >= 0.0 {
        Ok(n as usize)
    } else {
        Err(crate::error::invalid("a non-negative integer index"))
    }
}

#[wasm_bindgen]
impl Transaction {
    /// Sets the register at `path`.
    #[wasm_bindgen(js_name = setRegister)]
    pub fn set_register(&self, path: JsValue, value: JsValue) -> Result<(), JsValue> {
        self.push(Op::SetRegister(
            convert::path(&path)?,
            convert::value(&value)?,
        ))
    }

    /// Adds `by` (default 1) to the counter at `path`.
    pub fn increment(&self, path: JsValue, by: Option<f64>) -> Result<(), JsValue> {
        self.push(Op::Increment(
            convert::path(&path)?,
            by.unwrap_or(1.0) as i64,
        ))
    }

    /// Adds a member to the set at `path`.
    #[wasm_bindgen(js_name = addToSet)]
    pub fn add_to_set(&self, path: JsValue, member: String) -> Result<(), JsValue> {
        self.push(Op::AddToSet(convert::path(&path)?, member))
    }

    /// Removes a member from the set at `path`.
    #[wasm_bindgen(js_name = removeFromSet)]
    pub fn remove_from_set(&self, path: JsValue, member: String) -> Result<(), JsValue> {
        self.push(Op::RemoveFromSet(convert::path(&path)?, member))
    }

    /// Deletes `del` UTF-16 code units at `pos` of the text at `path` and inserts `insert`.
    pub fn splice(&self, path: JsValue, pos: f64, del: f64, insert: String) -> Result<(), JsValue> {
        self.push(Op::Splice(
            convert::path(&path)?,
            index(pos)?,
            index(del)?,
            insert,
        ))
    }

    /// Makes the text at `path` equal `text` with the smallest edit.
    #[wasm_bindgen(js_name = updateText)]
    pub fn update_text(&self, path: JsValue, text: String) -> Result<(), JsValue> {
        self.push(Op::UpdateText(convert::path(&path)?, text))
    }

    /// Creates an empty map at `path` if none is there.
    #[wasm_bindgen(js_name = createMap)]
    pub fn create_map(&self, path: JsValue) -> Result<(), JsValue> {
        self.push(Op::CreateMap(convert::path(&path)?))
    }

    /// Deletes `key` from the map at `path`.
    #[wasm_bindgen(js_name = deleteKey)]
    pub fn delete_key(&self, path: JsValue, key: String) -> Result<(), JsValue> {
        self.push(Op::DeleteKey(convert::path(&path)?, key))
    }

    /// Appends to the list at `path`.
    #[wasm_bindgen(js_name = push)]
    pub fn push_value(&self, path: JsValue, value: JsValue) -> Result<(), JsValue> {
        self.push(Op::Push(convert::path(&path)?, convert::value(&value)?))
    }

    /// Inserts into the list at `path`.
    pub fn insert(&self, path: JsValue, index_: f64, value: JsValue) -> Result<(), JsValue> {
        self.push(Op::Insert(
            convert::path(&path)?,
            index(index_)?,
            convert::value(&value)?,
        ))
    }

    /// Replaces an element of the list at `path`.
    #[wasm_bindgen(js_name = setIndex)]
    pub fn set_index(&self, path: JsValue, index_: f64, value: JsValue) -> Result<(), JsValue> {
        self.push(Op::SetIndex(
            convert::path(&path)?,
            index(index_)?,
            convert::value(&value)?,
        ))
    }

    /// Deletes an element of the list at `path`.
    #[wasm_bindgen(js_name = deleteIndex)]
    pub fn delete_index(&self, path: JsValue, index_: f64) -> Result<(), JsValue> {
        self.push(Op::DeleteIndex(convert::path(&path)?, index(index_)?))
    }
}
