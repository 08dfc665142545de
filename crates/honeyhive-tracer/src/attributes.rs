//! Turning `serde::Serialize` values into span attributes the way the Python SDK does.
//!
//! - Inputs (`honeyhive_inputs.<arg>`): scalars keep their type; lists and maps become
//!   one JSON string (Python `json.dumps`).
//! - Outputs and enrichment namespaces: scalars keep their type; maps and lists are
//!   flattened into dotted keys (`honeyhive_outputs.result.completion`,
//!   `honeyhive_outputs.result.0`); `null` is skipped.
//!
//! Scalars go through a tiny serializer straight to [`AttrValue`] with no
//! intermediate `serde_json::Value`, which keeps the common case allocation-free.

use std::borrow::Cow;

use serde::Serialize;
use serde::ser::{self, Impossible};

use crate::record::{AttrKey, AttrValue};

/// Serialize a value that is a scalar. `Ok(None)` for unit/`None`, `Err` for compound.
pub(crate) fn scalar<T: Serialize + ?Sized>(value: &T) -> Result<Option<AttrValue>, NotScalar> {
    value.serialize(ScalarSerializer)
}

/// Append the attributes for an input argument.
pub(crate) fn push_input<T: Serialize + ?Sized>(
    out: &mut Vec<(AttrKey, AttrValue)>,
    key: AttrKey,
    value: &T,
) {
    match scalar(value) {
        Ok(Some(v)) => out.push((key, v)),
        Ok(None) => {}
        Err(_) => {
            if let Ok(json) = serde_json::to_string(value) {
                out.push((key, AttrValue::Str(Cow::Owned(json))));
            }
        }
    }
}

/// Append the attributes for a value flattened under `prefix`.
pub(crate) fn push_flattened<T: Serialize + ?Sized>(
    out: &mut Vec<(AttrKey, AttrValue)>,
    prefix: AttrKey,
    value: &T,
) {
    match scalar(value) {
        Ok(Some(v)) => out.push((prefix, v)),
        Ok(None) => {}
        Err(_) => {
            if let Ok(json) = serde_json::to_value(value) {
                flatten_json(out, &prefix, &json);
            }
        }
    }
}

/// Flatten an already-built JSON value under `prefix`.
pub(crate) fn flatten_json(
    out: &mut Vec<(AttrKey, AttrValue)>,
    prefix: &str,
    value: &serde_json::Value,
) {
    use serde_json::Value;
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push((Cow::Owned(prefix.to_owned()), AttrValue::Bool(*b))),
        Value::Number(n) => {
            let v = match n.as_i64() {
                Some(i) => AttrValue::Int(i),
                None => AttrValue::Double(n.as_f64().unwrap_or(f64::NAN)),
            };
            out.push((Cow::Owned(prefix.to_owned()), v));
        }
        Value::String(s) => out.push((Cow::Owned(prefix.to_owned()), AttrValue::string(s))),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten_json(out, &format!("{prefix}.{i}"), item);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                flatten_json(out, &format!("{prefix}.{k}"), item);
            }
        }
    }
}

/// Marker error: the value is not a scalar (or failed to serialize).
#[derive(Debug)]
pub(crate) struct NotScalar;

impl std::fmt::Display for NotScalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a scalar")
    }
}

impl std::error::Error for NotScalar {}

impl ser::Error for NotScalar {
    fn custom<T: std::fmt::Display>(_msg: T) -> Self {
        NotScalar
    }
}

struct ScalarSerializer;

type Scalar = Result<Option<AttrValue>, NotScalar>;

impl ser::Serializer for ScalarSerializer {
    type Ok = Option<AttrValue>;
    type Error = NotScalar;
    type SerializeSeq = Impossible<Self::Ok, NotScalar>;
    type SerializeTuple = Impossible<Self::Ok, NotScalar>;
    type SerializeTupleStruct = Impossible<Self::Ok, NotScalar>;
    type SerializeTupleVariant = Impossible<Self::Ok, NotScalar>;
    type SerializeMap = Impossible<Self::Ok, NotScalar>;
    type SerializeStruct = Impossible<Self::Ok, NotScalar>;
    type SerializeStructVariant = Impossible<Self::Ok, NotScalar>;

    fn serialize_bool(self, v: bool) -> Scalar {
        Ok(Some(AttrValue::Bool(v)))
    }
    fn serialize_i8(self, v: i8) -> Scalar {
        Ok(Some(AttrValue::Int(v.into())))
    }
    fn serialize_i16(self, v: i16) -> Scalar {
        Ok(Some(AttrValue::Int(v.into())))
    }
    fn serialize_i32(self, v: i32) -> Scalar {
        Ok(Some(AttrValue::Int(v.into())))
    }
    fn serialize_i64(self, v: i64) -> Scalar {
        Ok(Some(AttrValue::Int(v)))
    }
    fn serialize_u8(self, v: u8) -> Scalar {
        Ok(Some(AttrValue::Int(v.into())))
    }
    fn serialize_u16(self, v: u16) -> Scalar {
        Ok(Some(AttrValue::Int(v.into())))
    }
    fn serialize_u32(self, v: u32) -> Scalar {
        Ok(Some(AttrValue::Int(v.into())))
    }
    fn serialize_u64(self, v: u64) -> Scalar {
        // OTLP ints are signed; out-of-range values keep their digits as a string.
        Ok(Some(match i64::try_from(v) {
            Ok(i) => AttrValue::Int(i),
            Err(_) => AttrValue::Str(Cow::Owned(v.to_string())),
        }))
    }
    fn serialize_i128(self, v: i128) -> Scalar {
        Ok(Some(match i64::try_from(v) {
            Ok(i) => AttrValue::Int(i),
            Err(_) => AttrValue::Str(Cow::Owned(v.to_string())),
        }))
    }
    fn serialize_u128(self, v: u128) -> Scalar {
        Ok(Some(match i64::try_from(v) {
            Ok(i) => AttrValue::Int(i),
            Err(_) => AttrValue::Str(Cow::Owned(v.to_string())),
        }))
    }
    fn serialize_f32(self, v: f32) -> Scalar {
        Ok(Some(AttrValue::Double(v.into())))
    }
    fn serialize_f64(self, v: f64) -> Scalar {
        Ok(Some(AttrValue::Double(v)))
    }
    fn serialize_char(self, v: char) -> Scalar {
        Ok(Some(AttrValue::string(v.encode_utf8(&mut [0u8; 4]))))
    }
    fn serialize_str(self, v: &str) -> Scalar {
        Ok(Some(AttrValue::string(v)))
    }
    fn serialize_bytes(self, _v: &[u8]) -> Scalar {
        Err(NotScalar)
    }
    fn serialize_none(self) -> Scalar {
        Ok(None)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Scalar {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Scalar {
        Ok(None)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Scalar {
        Ok(None)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Scalar {
        Ok(Some(AttrValue::Str(Cow::Borrowed(variant))))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Scalar {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Scalar {
        Err(NotScalar)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, NotScalar> {
        Err(NotScalar)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, NotScalar> {
        Err(NotScalar)
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, NotScalar> {
        Err(NotScalar)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, NotScalar> {
        Err(NotScalar)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, NotScalar> {
        Err(NotScalar)
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, NotScalar> {
        Err(NotScalar)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, NotScalar> {
        Err(NotScalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flattened<T: Serialize>(value: &T) -> Vec<(String, AttrValue)> {
        let mut out = Vec::new();
        push_flattened(&mut out, Cow::Borrowed("p"), value);
        out.into_iter().map(|(k, v)| (k.into_owned(), v)).collect()
    }

    #[test]
    fn scalars_keep_their_otlp_type() {
        assert_eq!(scalar(&3u8).ok().flatten(), Some(AttrValue::Int(3)));
        assert_eq!(scalar(&0.5f32).ok().flatten(), Some(AttrValue::Double(0.5)));
        assert_eq!(scalar(&true).ok().flatten(), Some(AttrValue::Bool(true)));
        assert_eq!(
            scalar("x").ok().flatten(),
            Some(AttrValue::Str(Cow::Borrowed("x")))
        );
        assert_eq!(
            scalar(&u64::MAX).ok().flatten(),
            Some(AttrValue::Str(Cow::Owned(u64::MAX.to_string())))
        );
        assert_eq!(scalar(&Option::<i32>::None).ok().flatten(), None);
        assert!(scalar(&vec![1]).is_err());
    }

    #[test]
    fn maps_and_lists_flatten_to_dotted_keys_and_nulls_are_skipped() {
        let value = serde_json::json!({"completion": "HI", "tokens": [1, 2], "none": null, "nested": {"x": 1.5}});
        let out = flattened(&value);
        let keys: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["p.completion", "p.tokens.0", "p.tokens.1", "p.nested.x"]
        );
        assert_eq!(out[3].1, AttrValue::Double(1.5));
    }

    #[test]
    fn compound_inputs_become_one_json_string() {
        let mut out = Vec::new();
        push_input(&mut out, Cow::Borrowed("k"), &vec!["a", "b"]);
        assert_eq!(out[0].1, AttrValue::Str(Cow::Owned("[\"a\",\"b\"]".into())));
    }
}
