//! Every register of a document holding concurrent values (see [`DocView::conflicts`]).
//!
//! [`DocView::conflicts`]: super::DocView::conflicts

use automerge::{ObjId, ObjType, ROOT, ReadDoc, Value as AmValue};

use super::json::{MAX_DEPTH, for_each_slot, map_copies};
use super::resolve;
use super::{Kind, Path, Value};

/// A register holding several concurrent values: each device's write survives until one
/// device writes the register again (which resolves the conflict everywhere).
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// Where the register is.
    pub path: Path,
    /// Every concurrent value, the winner (what [`RegisterRef::get`] reads) first.
    ///
    /// [`RegisterRef::get`]: super::RegisterRef::get
    pub values: Vec<Value>,
}

/// Every register in conflict in `doc`, in map-key and list order, going through nested
/// maps (concurrent copies of a map merged, as [`to_json`](super::json::to_json) reads them)
/// and lists. One pass over the document, however many registers it holds.
pub(crate) fn conflicts<D: ReadDoc>(doc: &D) -> Vec<Conflict> {
    let mut out = Vec::new();
    map(doc, &[ROOT], &Path::root(), 0, &mut out);
    out
}

/// The map whose concurrent copies are `copies` (the winning one first), at `path`.
fn map<D: ReadDoc>(doc: &D, copies: &[ObjId], path: &Path, depth: usize, out: &mut Vec<Conflict>) {
    if depth > MAX_DEPTH {
        return;
    }
    for_each_slot(doc, copies, |key, values| {
        slot(doc, values, &path.clone().key(key), depth, out);
    });
}

/// A slot's concurrent `values` (the winner first), at `path`.
pub(super) fn slot<D: ReadDoc>(
    doc: &D,
    values: &[(AmValue<'_>, ObjId)],
    path: &Path,
    depth: usize,
    out: &mut Vec<Conflict>,
) {
    let Some((winner, id)) = values.first() else {
        return;
    };
    match resolve::kind_of(doc, winner, id) {
        Kind::Map => map(doc, &map_copies(doc, values), path, depth + 1, out),
        Kind::List if depth < MAX_DEPTH => {
            if let AmValue::Object(ObjType::List) = winner {
                for (i, item) in doc.list_range(id, ..).enumerate() {
                    if item.conflict {
                        let mut values = doc.get_all(id, i).unwrap_or_default();
                        values.reverse();
                        slot(doc, &values, &path.clone().index(i), depth + 1, out);
                    }
                }
            }
        }
        Kind::Register if values.len() > 1 => {
            let registers: Vec<Value> = values
                .iter()
                .filter_map(|(v, _)| match v {
                    AmValue::Scalar(s) if !s.is_counter() => resolve::register_value(s, path).ok(),
                    _ => None,
                })
                .collect();
            if registers.len() > 1 {
                out.push(Conflict {
                    path: path.clone(),
                    values: registers,
                });
            }
        }
        _ => {}
    }
}
