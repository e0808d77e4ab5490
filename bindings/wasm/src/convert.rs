//! Conversions between JS values and polyarch's paths, values, receipts and JSON.

use js_sys::{Array, Object, Reflect, Uint8Array};
use polyarch::automerge::ActorId;
use polyarch::{Conflict, DeviceId, Durability, Lease, Path, Receipt, Seg, Value};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::error;

/// A path from JS: a key (`"title"`) or an array of keys and indexes (`["events", 0, "title"]`).
pub fn path(js: &JsValue) -> Result<Path, JsValue> {
    if let Some(key) = js.as_string() {
        return Ok(Path::from(key));
    }
    if !Array::is_array(js) {
        return Err(error::invalid(
            "a path: a string or an array of strings and numbers",
        ));
    }
    let mut segs = Vec::new();
    for seg in Array::from(js).iter() {
        if let Some(key) = seg.as_string() {
            segs.push(Seg::Key(key));
        } else if let Some(n) = seg.as_f64().filter(|n| n.fract() == 0.0 && *n >= 0.0) {
            segs.push(Seg::Index(n as usize));
        } else {
            return Err(error::invalid(
                "path segments: strings (map keys) or non-negative integers (list indexes)",
            ));
        }
    }
    Ok(Path::from(segs))
}

/// A document id from JS.
pub fn doc_id(js: &str) -> Result<polyarch::DocId, JsValue> {
    polyarch::DocId::new(js).map_err(|e| error::core(e.into()))
}

/// Document ids from a JS array (`what` names the argument in errors).
pub fn doc_ids(js: JsValue, what: &str) -> Result<Vec<polyarch::DocId>, JsValue> {
    let docs: Array = js
        .dyn_into()
        .map_err(|_| error::invalid(format!("`{what}` to be an array of document ids")))?;
    docs.iter()
        .map(|d| {
            d.as_string()
                .ok_or_else(|| error::invalid(format!("`{what}` to hold strings")))
                .and_then(|id| doc_id(&id))
        })
        .collect()
}

/// The lease in `Repo.open`'s options: `device` (32 hex digits) and `actor` (2 to 128 hex
/// digits), both or neither.
pub fn lease(options: &JsValue) -> Result<Option<Lease>, JsValue> {
    let hex = |key: &str, what: &str| {
        prop(options, key)
            .map(|v| v.as_string().ok_or_else(|| error::invalid(what)))
            .transpose()
    };
    const DEVICE: &str = "`device` to be 32 hex digits";
    const ACTOR: &str = "`actor` to be 2 to 128 hex digits";
    match (hex("device", DEVICE)?, hex("actor", ACTOR)?) {
        (None, None) => Ok(None),
        (Some(device), Some(actor)) => {
            let device = DeviceId::from_hex(&device).map_err(|_| error::invalid(DEVICE))?;
            let actor = actor
                .parse::<ActorId>()
                .ok()
                .filter(|a| (1..=64).contains(&a.to_bytes().len()))
                .ok_or_else(|| error::invalid(ACTOR))?;
            Ok(Some(Lease { device, actor }))
        }
        _ => Err(error::invalid(
            "`device` and `actor` together (a lease), or neither",
        )),
    }
}

/// The durability in `Repo.open`'s options: `"immediate"` (the default), `"group"` (batches
/// of up to 1,024 changes or 10 ms), or `{ maxChanges, maxDelayMs }` (group commit, either
/// field defaulting as `"group"`'s).
pub fn durability(options: &JsValue) -> Result<Durability, JsValue> {
    const WHAT: &str = "`durability` to be \"immediate\", \"group\" or { maxChanges, maxDelayMs } \
                        (positive integers)";
    let Some(js) = prop(options, "durability") else {
        return Ok(Durability::Immediate);
    };
    let Durability::Group {
        max_changes,
        max_delay,
    } = Durability::group()
    else {
        return Err(error::invalid(WHAT));
    };
    match js.as_string().as_deref() {
        Some("immediate") => return Ok(Durability::Immediate),
        Some("group") => return Ok(Durability::group()),
        Some(_) => return Err(error::invalid(WHAT)),
        None if !js.is_object() => return Err(error::invalid(WHAT)),
        None => {}
    }
    let positive = |key: &str| match prop(&js, key) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|n| n.fract() == 0.0 && *n >= 1.0 && *n <= u32::MAX as f64)
            .map(|n| Some(n as u64))
            .ok_or_else(|| error::invalid(WHAT)),
    };
    Ok(Durability::Group {
        max_changes: positive("maxChanges")?.map_or(max_changes, |n| n as usize),
        max_delay: positive("maxDelayMs")?.map_or(max_delay, std::time::Duration::from_millis),
    })
}

/// A scalar from JS: string, boolean, number (integers stay integers), `null`, `Uint8Array`,
/// `Date` (a timestamp).
pub fn value(js: &JsValue) -> Result<Value, JsValue> {
    if js.is_null() || js.is_undefined() {
        return Ok(Value::Null);
    }
    if let Some(s) = js.as_string() {
        return Ok(Value::Str(s));
    }
    if let Some(b) = js.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Some(n) = js.as_f64() {
        if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_991.0 {
            return Ok(Value::Int(n as i64));
        }
        return Ok(Value::F64(n));
    }
    if let Some(bytes) = js.dyn_ref::<Uint8Array>() {
        return Ok(Value::Bytes(bytes.to_vec()));
    }
    if let Some(date) = js.dyn_ref::<js_sys::Date>() {
        return Ok(Value::Timestamp(date.get_time() as i64));
    }
    Err(error::invalid(
        "a value: string, number, boolean, null, Uint8Array or Date",
    ))
}

/// A scalar as JS.
pub fn to_js(v: &Value) -> JsValue {
    match v {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::Int(i) => JsValue::from_f64(*i as f64),
        Value::F64(f) => JsValue::from_f64(*f),
        Value::Str(s) => JsValue::from_str(s),
        Value::Bytes(b) => Uint8Array::from(b.as_slice()).into(),
        Value::Timestamp(ms) => js_sys::Date::new(&JsValue::from_f64(*ms as f64)).into(),
    }
}

/// Scalars as a JS array.
pub fn values(vs: &[Value]) -> Array {
    vs.iter().map(to_js).collect()
}

/// A conflict as `{ path, values }`: the path's keys (strings) and indexes (numbers), and
/// every concurrent value, the winner first.
pub fn conflict(c: &Conflict) -> JsValue {
    let path: Array = c
        .path
        .segments()
        .iter()
        .map(|seg| match seg {
            Seg::Key(k) => JsValue::from_str(k),
            Seg::Index(i) => JsValue::from_f64(*i as f64),
        })
        .collect();
    let obj = Object::new();
    let _ = Reflect::set(&obj, &"path".into(), &path);
    let _ = Reflect::set(&obj, &"values".into(), &values(&c.values));
    obj.into()
}

/// Strings as a JS array.
pub fn strings(ss: &[String]) -> Array {
    ss.iter().map(|s| JsValue::from_str(s)).collect()
}

/// JSON as plain JS objects.
pub fn json(v: &serde_json::Value) -> JsValue {
    // serde_json always writes valid JSON, so JSON.parse cannot fail on it.
    js_sys::JSON::parse(&v.to_string()).unwrap_or(JsValue::NULL)
}

/// Anything serializable as plain JS objects.
pub fn serialize(v: &impl serde::Serialize) -> JsValue {
    serde_json::to_value(v).map_or(JsValue::NULL, |v| json(&v))
}

/// Byte frames as an array of `Uint8Array`.
pub fn frames(fs: Vec<Vec<u8>>) -> Array {
    fs.iter()
        .map(|f| JsValue::from(Uint8Array::from(f.as_slice())))
        .collect()
}

/// A receipt as `{ doc, hash, seq, offset }` (`offset` is `null` while a group commit waits).
pub fn receipt(r: &Receipt) -> JsValue {
    receipt_object(r.doc.as_ref(), Some(&r.hash.to_string()), r.seq, r.offset).into()
}

/// A receipt as JS sees it: `{ doc, hash, seq, offset }`, `hash` and `offset` `null` when not
/// known yet.
pub fn receipt_object(doc: &str, hash: Option<&str>, seq: u64, offset: Option<u64>) -> Object {
    let obj = Object::new();
    let hash = hash.map_or(JsValue::NULL, JsValue::from_str);
    let offset = offset.map_or(JsValue::NULL, |o| JsValue::from_f64(o as f64));
    for (k, v) in [
        ("doc", JsValue::from_str(doc)),
        ("hash", hash),
        ("seq", JsValue::from_f64(seq as f64)),
        ("offset", offset),
    ] {
        let _ = Reflect::set(&obj, &k.into(), &v);
    }
    obj
}

/// A receipt back from JS.
pub fn receipt_from(js: &JsValue) -> Result<Receipt, JsValue> {
    let bad = || error::invalid("a receipt returned by this repo");
    let get = |k: &str| Reflect::get(js, &k.into()).map_err(|_| bad());
    let doc = get("doc")?.as_string().ok_or_else(bad)?;
    let hash = get("hash")?.as_string().ok_or_else(bad)?;
    let seq = get("seq")?.as_f64().ok_or_else(bad)?;
    let offset = get("offset")?.as_f64().map(|o| o as u64);
    Ok(Receipt {
        doc: doc_id(&doc)?,
        hash: hash.parse().map_err(|_| bad())?,
        seq: seq as u64,
        offset,
    })
}

/// An optional property of an options object.
pub fn prop(obj: &JsValue, key: &str) -> Option<JsValue> {
    if !obj.is_object() {
        return None;
    }
    Reflect::get(obj, &key.into())
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}
