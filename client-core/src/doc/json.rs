//! Documents as JSON: for showing them (`saferound show`, conflicting values) and for
//! reading them into typed records.
//!
//! Why typed reads go through JSON: Automerge 0.12 answers each `get` in 1.5–2.5 µs, so
//! autosurgeon's field-by-field `hydrate` takes about a millisecond for an inspection of
//! 20 answers. `ReadDoc::hydrate` walks the op set once (about three times faster); the
//! record types deserialize from that tree with serde. Writes still go through
//! autosurgeon. The JSON for reading keeps Automerge's kinds apart (text objects, bytes,
//! timestamps and counters do not look like strings), so a read accepts exactly what
//! autosurgeon accepts; debug builds check that on every read.
//!
//! Where a key holds concurrent values, the JSON holds the one Automerge picks (the same
//! everywhere); `conflicts` lists the others.

use automerge::{AutoCommit, ObjId, ROOT, ReadDoc, ScalarValue, Value, hydrate};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value as Json};

use crate::error::{Error, Result};

/// The whole document as JSON, for people.
pub fn to_json(doc: &AutoCommit) -> Json {
    doc.hydrate(ROOT, None)
        .map(|v| convert(&v, Mode::Show))
        .unwrap_or(Json::Null)
}

/// One value (an object is read whole), for people.
pub(crate) fn value_to_json(doc: &AutoCommit, value: &Value<'_>, id: &ObjId) -> Json {
    match value {
        Value::Object(_) => doc
            .hydrate(id, None)
            .map(|v| convert(&v, Mode::Show))
            .unwrap_or(Json::Null),
        Value::Scalar(s) => scalar(s, Mode::Show),
    }
}

/// Reads the root of `doc` as a `T` (a record type that derives both serde's
/// `Deserialize` and autosurgeon's `Hydrate` with the same layout).
pub(crate) fn read<T>(doc: &AutoCommit) -> Result<T>
where
    T: DeserializeOwned + autosurgeon::Hydrate + PartialEq + std::fmt::Debug,
{
    let tree = convert(&doc.hydrate(ROOT, None)?, Mode::Read);
    let fast = serde_json::from_value::<T>(tree).map_err(|e| {
        Error::Document(format!(
            "the document does not have the expected shape: {e}"
        ))
    });
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

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Text as strings, bytes as hex, timestamps and counters as numbers.
    Show,
    /// Only string scalars are strings; anything autosurgeon would not take as a string
    /// is an object no record type accepts (text: `{"$text": …}`, see `DocText`).
    Read,
}

fn convert(v: &hydrate::Value, mode: Mode) -> Json {
    match v {
        hydrate::Value::Scalar(s) => scalar(s, mode),
        hydrate::Value::Map(m) => Json::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), convert(&v.value, mode)))
                .collect(),
        ),
        hydrate::Value::List(l) => Json::Array(l.iter().map(|v| convert(&v.value, mode)).collect()),
        hydrate::Value::Text(t) => {
            let s = Json::String(String::from(t));
            match mode {
                Mode::Show => s,
                Mode::Read => Json::Object(Map::from_iter([("$text".to_string(), s)])),
            }
        }
    }
}

fn scalar(s: &ScalarValue, mode: Mode) -> Json {
    let tagged = |tag: &str, v: Json| Json::Object(Map::from_iter([(tag.to_string(), v)]));
    match (s, mode) {
        (ScalarValue::Str(s), _) => Json::String(s.to_string()),
        (ScalarValue::Int(i), _) => Json::from(*i),
        (ScalarValue::Uint(u), _) => Json::from(*u),
        (ScalarValue::F64(f), _) => Json::from(*f),
        (ScalarValue::Boolean(b), _) => Json::Bool(*b),
        (ScalarValue::Null, _) => Json::Null,
        (ScalarValue::Counter(c), Mode::Show) => Json::from(i64::from(c)),
        (ScalarValue::Timestamp(t), Mode::Show) => Json::from(*t),
        (ScalarValue::Bytes(b), Mode::Show) => Json::String(hex::encode(b)),
        (ScalarValue::Unknown { .. }, Mode::Show) => Json::Null,
        (ScalarValue::Counter(c), Mode::Read) => tagged("$counter", Json::from(i64::from(c))),
        (ScalarValue::Timestamp(t), Mode::Read) => tagged("$timestamp", Json::from(*t)),
        (ScalarValue::Bytes(b), Mode::Read) => tagged("$bytes", Json::String(hex::encode(b))),
        (ScalarValue::Unknown { type_code, .. }, Mode::Read) => {
            tagged("$unknown", Json::from(*type_code))
        }
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
