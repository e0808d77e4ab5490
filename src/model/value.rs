//! Scalar values held by registers and lists.

/// A scalar value: what a register holds or a list element is.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase")]
pub enum Value {
    /// No value.
    Null,
    /// True or false.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// A floating-point number.
    F64(f64),
    /// Text (a whole value, not collaborative text).
    Str(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
}

impl Value {
    /// The text, when this is a `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, when this is an `Int` or a `Timestamp`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) | Value::Timestamp(i) => Some(*i),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::F64(f)
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::Bytes(b)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i64::from(i))
    }
}

impl From<u32> for Value {
    fn from(i: u32) -> Self {
        Value::Int(i64::from(i))
    }
}

impl From<&[u8]> for Value {
    fn from(b: &[u8]) -> Self {
        Value::Bytes(b.to_vec())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` becomes [`Value::Null`].
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// What an automerge scalar is to the model: a register value, a counter, or a type this
/// version does not know.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    /// A value a register or list element holds.
    Value(Value),
    /// A counter's current value.
    Counter(i64),
    /// A value type from a newer automerge.
    Unknown(u8),
}

impl Scalar {
    /// Classifies an automerge scalar. Unsigned integers become `Int` when they fit and `F64`
    /// otherwise (automerge has a `uint` type that Polyarch never writes).
    pub(crate) fn from_automerge(s: &automerge::ScalarValue) -> Self {
        use automerge::ScalarValue as S;
        Scalar::Value(match s {
            S::Bytes(b) => Value::Bytes(b.clone()),
            S::Str(s) => Value::Str(s.to_string()),
            S::Int(i) => Value::Int(*i),
            S::Uint(u) => i64::try_from(*u).map_or(Value::F64(*u as f64), Value::Int),
            S::F64(f) => Value::F64(*f),
            S::Counter(c) => return Scalar::Counter(i64::from(c)),
            S::Timestamp(t) => Value::Timestamp(*t),
            S::Boolean(b) => Value::Bool(*b),
            S::Unknown { type_code, .. } => return Scalar::Unknown(*type_code),
            S::Null => Value::Null,
        })
    }
}

impl Value {
    /// The automerge scalar that stores this value.
    pub(crate) fn into_automerge(self) -> automerge::ScalarValue {
        use automerge::ScalarValue as S;
        match self {
            Value::Null => S::Null,
            Value::Bool(b) => S::Boolean(b),
            Value::Int(i) => S::Int(i),
            Value::F64(f) => S::F64(f),
            Value::Str(s) => S::Str(s.into()),
            Value::Bytes(b) => S::Bytes(b),
            Value::Timestamp(t) => S::Timestamp(t),
        }
    }

    /// This value as JSON: bytes as an array of numbers, timestamps as milliseconds, and
    /// non-finite floats as `null`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) | Value::Timestamp(i) => J::from(*i),
            Value::F64(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Bytes(b) => J::Array(b.iter().map(|x| J::from(*x)).collect()),
        }
    }
}
