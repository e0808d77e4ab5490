//! Scalar values as the host languages see them.

/// What a register holds or a list element is.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum Value {
    /// No value.
    Null,
    /// True or false.
    Bool {
        /// The value.
        value: bool,
    },
    /// A signed integer.
    Int {
        /// The value.
        value: i64,
    },
    /// A floating-point number.
    Float {
        /// The value.
        value: f64,
    },
    /// Text (a whole value; collaborative text is a [`crate::Text`]).
    Str {
        /// The value.
        value: String,
    },
    /// Raw bytes.
    Bytes {
        /// The value.
        value: Vec<u8>,
    },
    /// Milliseconds since the Unix epoch.
    Timestamp {
        /// The value.
        ms: i64,
    },
}

impl From<polyarch::Value> for Value {
    fn from(v: polyarch::Value) -> Self {
        use polyarch::Value as V;
        match v {
            V::Null => Value::Null,
            V::Bool(value) => Value::Bool { value },
            V::Int(value) => Value::Int { value },
            V::F64(value) => Value::Float { value },
            V::Str(value) => Value::Str { value },
            V::Bytes(value) => Value::Bytes { value },
            V::Timestamp(ms) => Value::Timestamp { ms },
        }
    }
}

impl From<Value> for polyarch::Value {
    fn from(v: Value) -> Self {
        use polyarch::Value as V;
        match v {
            Value::Null => V::Null,
            Value::Bool { value } => V::Bool(value),
            Value::Int { value } => V::Int(value),
            Value::Float { value } => V::F64(value),
            Value::Str { value } => V::Str(value),
            Value::Bytes { value } => V::Bytes(value),
            Value::Timestamp { ms } => V::Timestamp(ms),
        }
    }
}

/// Many core values as host values.
pub(crate) fn values(vs: Vec<polyarch::Value>) -> Vec<Value> {
    vs.into_iter().map(Value::from).collect()
}
