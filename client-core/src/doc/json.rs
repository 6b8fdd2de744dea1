//! Documents as JSON: for showing them (`saferound show`, conflicting values) and for
//! reading them into typed records.
//!
//! Why typed reads go through JSON: Automerge 0.12 answers each `get` in 1.5–2.5 µs, so
//! autosurgeon's field-by-field `hydrate` takes about a millisecond for an inspection of
//! 20 answers. `ReadDoc::hydrate` walks the op set once (about three times faster); the
//! record types deserialize from that tree with serde (`ReadTree`, straight from the tree:
//! building a `serde_json::Value` first cost a third of the read). Writes still go through
//! autosurgeon. The JSON for reading keeps Automerge's kinds apart (text objects, bytes,
//! timestamps and counters do not look like strings), so a read accepts exactly what
//! autosurgeon accepts; debug builds check that on every read.
//!
//! Where a key holds concurrent values, the JSON holds the one Automerge picks (the same
//! everywhere); `conflicts` lists the others.

use automerge::{AutoCommit, ObjId, ROOT, ReadDoc, ScalarValue, Value, hydrate};
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use crate::error::{Error, Result};

/// The whole document as JSON, for people.
pub fn to_json(doc: &AutoCommit) -> Json {
    doc.hydrate(ROOT, None)
        .map(|v| convert(&v))
        .unwrap_or(Json::Null)
}

/// One value (an object is read whole), for people.
pub(crate) fn value_to_json(doc: &AutoCommit, value: &Value<'_>, id: &ObjId) -> Json {
    match value {
        Value::Object(_) => doc
            .hydrate(id, None)
            .map(|v| convert(&v))
            .unwrap_or(Json::Null),
        Value::Scalar(s) => scalar(s),
    }
}

/// Reads the root of `doc` as its header (checked like `expect_kind`) and a `T` (a record
/// type that derives both serde's `Deserialize` and autosurgeon's `Hydrate` with the same
/// layout), from one walk of the document: the header on its own would be a second walk.
pub(crate) fn read_headed<T>(doc: &AutoCommit, kind: super::DocKind) -> Result<(super::Header, T)>
where
    T: DeserializeOwned + autosurgeon::Hydrate + PartialEq + std::fmt::Debug,
{
    let tree = doc.hydrate(ROOT, None)?;
    let header: super::Header = read_tree(doc, &tree)?;
    super::check_header(&header, kind)?;
    Ok((header, read_tree(doc, &tree)?))
}

fn read_tree<T>(doc: &AutoCommit, tree: &hydrate::Value) -> Result<T>
where
    T: DeserializeOwned + autosurgeon::Hydrate + PartialEq + std::fmt::Debug,
{
    let fast = T::deserialize(ReadTree(tree)).map_err(|e| {
        Error::Document(format!(
            "the document does not have the expected shape: {e}"
        ))
    });
    // Release builds do not check against autosurgeon; debug builds (every test) do.
    #[cfg(not(debug_assertions))]
    let _ = doc;
    #[cfg(debug_assertions)]
    {
        let slow: std::result::Result<T, _> = autosurgeon::hydrate(doc);
        match (&fast, &slow) {
            (Ok(f), Ok(s)) => assert_eq!(f, s, "one-pass read differs from autosurgeon's"),
            (Err(_), Err(_)) => {}
            (f, s) => panic!("one-pass read and autosurgeon disagree: {f:?} / {s:?}"),
        }
    }
    fast
}

/// The tree as people read it: text as strings, bytes as hex, timestamps and counters
/// as numbers.
fn convert(v: &hydrate::Value) -> Json {
    match v {
        hydrate::Value::Scalar(s) => scalar(s),
        hydrate::Value::Map(m) => Json::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), convert(&v.value)))
                .collect(),
        ),
        hydrate::Value::List(l) => Json::Array(l.iter().map(|v| convert(&v.value)).collect()),
        hydrate::Value::Text(t) => Json::String(String::from(t)),
    }
}

fn scalar(s: &ScalarValue) -> Json {
    match s {
        ScalarValue::Str(s) => Json::String(s.to_string()),
        ScalarValue::Int(i) => Json::from(*i),
        ScalarValue::Uint(u) => Json::from(*u),
        ScalarValue::F64(f) => Json::from(*f),
        ScalarValue::Boolean(b) => Json::Bool(*b),
        ScalarValue::Null => Json::Null,
        ScalarValue::Counter(c) => Json::from(i64::from(c)),
        ScalarValue::Timestamp(t) => Json::from(*t),
        ScalarValue::Bytes(b) => Json::String(hex::encode(b)),
        ScalarValue::Unknown { .. } => Json::Null,
    }
}

/// A text object's content, read the same way by both readers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DocText(pub String);

impl autosurgeon::Hydrate for DocText {
    fn hydrate_text<D: autosurgeon::ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
    ) -> std::result::Result<Self, autosurgeon::HydrateError> {
        Ok(DocText(doc.text(obj)?))
    }
}

impl<'de> serde::Deserialize<'de> for DocText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Tagged {
            #[serde(rename = "$text")]
            text: String,
        }
        Tagged::deserialize(d).map(|t| DocText(t.text))
    }
}

/// For types kept in documents as strings through `Display`/`FromStr` whose serde form
/// is something else (e.g. `IsoWeek`): `#[serde(deserialize_with = "from_str")]`.
pub(crate) fn from_str<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let s = <String as serde::Deserialize>::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

/// A hydrated tree as a serde `Deserializer`, the way a JSON reader would see it: maps,
/// lists, string scalars as strings, numbers, and every kind autosurgeon would not take
/// as a string as a one-key object no record type accepts by accident (text:
/// `{"$text": …}`, see `DocText`; `{"$timestamp": …}`, `{"$counter": …}`, `{"$bytes":
/// hex}`, `{"$unknown": type}`). Debug builds check every read against autosurgeon, so a
/// difference fails the tests.
struct ReadTree<'a>(&'a hydrate::Value);

type DeError = serde::de::value::Error;

impl<'de> serde::de::IntoDeserializer<'de, DeError> for ReadTree<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

/// One tagged value, `{tag: value}`, as the JSON form has it.
fn tagged<'de, V, X>(
    visitor: V,
    tag: &'static str,
    value: X,
) -> std::result::Result<V::Value, DeError>
where
    V: serde::de::Visitor<'de>,
    X: serde::de::IntoDeserializer<'de, DeError>,
{
    visitor.visit_map(serde::de::value::MapDeserializer::new(std::iter::once((
        tag, value,
    ))))
}

impl<'de> serde::Deserializer<'de> for ReadTree<'de> {
    type Error = DeError;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        match self.0 {
            hydrate::Value::Map(m) => visitor.visit_map(serde::de::value::MapDeserializer::new(
                m.iter().map(|(k, v)| (k.as_str(), ReadTree(&v.value))),
            )),
            hydrate::Value::List(l) => visitor.visit_seq(serde::de::value::SeqDeserializer::new(
                l.iter().map(|v| ReadTree(&v.value)),
            )),
            hydrate::Value::Text(t) => tagged(visitor, "$text", String::from(t)),
            hydrate::Value::Scalar(s) => match s {
                ScalarValue::Str(s) => visitor.visit_borrowed_str(s.as_str()),
                ScalarValue::Int(i) => visitor.visit_i64(*i),
                ScalarValue::Uint(u) => visitor.visit_u64(*u),
                ScalarValue::F64(f) => visitor.visit_f64(*f),
                ScalarValue::Boolean(b) => visitor.visit_bool(*b),
                ScalarValue::Null => visitor.visit_unit(),
                ScalarValue::Counter(c) => tagged(visitor, "$counter", i64::from(c)),
                ScalarValue::Timestamp(t) => tagged(visitor, "$timestamp", *t),
                ScalarValue::Bytes(b) => tagged(visitor, "$bytes", hex::encode(b)),
                ScalarValue::Unknown { type_code, .. } => tagged(visitor, "$unknown", *type_code),
            },
        }
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        match self.0 {
            hydrate::Value::Scalar(ScalarValue::Null) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        use serde::de::IntoDeserializer;
        match self.0 {
            // A unit variant by name, as serde_json reads `"name"`.
            hydrate::Value::Scalar(ScalarValue::Str(s)) => {
                visitor.visit_enum(s.as_str().into_deserializer())
            }
            // `{"variant": content}`.
            hydrate::Value::Map(m) if m.iter().count() == 1 => {
                visitor.visit_enum(serde::de::value::MapAccessDeserializer::new(
                    serde::de::value::MapDeserializer::new(
                        m.iter().map(|(k, v)| (k.as_str(), ReadTree(&v.value))),
                    ),
                ))
            }
            _ => Err(serde::de::Error::custom(
                "expected an enum: a string or a one-key map",
            )),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}
