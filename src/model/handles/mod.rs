//! Typed handles: one read handle (`*Ref`, generic over any automerge reader) and one write
//! handle (`*Mut`, inside a [`Tx`](super::Tx)) per CRDT type.
//!
//! A handle holds its path and resolves it when an operation runs, so handles are cheap to make
//! and never dangle. Write handles read through [`read`](RegisterMut::read), which gives the
//! read handle over the transaction (it sees the transaction's own writes).

mod counter;
mod list;
mod map;
mod register;
mod set;
mod text;

pub use counter::{CounterMut, CounterRef};
pub use list::{ListMut, ListRef};
pub use map::{MapMut, MapRef};
pub use register::{RegisterMut, RegisterRef};
pub use set::{SetMut, SetRef};
pub use text::{TextMut, TextRef};
