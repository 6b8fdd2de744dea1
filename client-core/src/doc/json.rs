//! A document as JSON, for `saferound show` and for showing conflicting values. Where a
//! key holds concurrent values, JSON shows the one Automerge picks (the same everywhere);
//! `conflicts` lists the others.

use automerge::{AutoCommit, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use serde_json::{Map, Value as Json};

/// The whole document as JSON.
pub fn to_json(doc: &AutoCommit) -> Json {
    object_to_json(doc, &ROOT, ObjType::Map)
}

pub(crate) fn value_to_json(doc: &AutoCommit, value: &Value<'_>, id: &ObjId) -> Json {
    match value {
        Value::Object(t) => object_to_json(doc, id, *t),
        Value::Scalar(s) => scalar_to_json(s),
    }
}

fn object_to_json(doc: &AutoCommit, obj: &ObjId, t: ObjType) -> Json {
    match t {
        ObjType::Map | ObjType::Table => {
            let mut m = Map::new();
            for key in doc.keys(obj) {
                if let Ok(Some((v, id))) = doc.get(obj, key.as_str()) {
                    m.insert(key.clone(), value_to_json(doc, &v, &id));
                }
            }
            Json::Object(m)
        }
        ObjType::List => Json::Array(
            (0..doc.length(obj))
                .filter_map(|i| match doc.get(obj, i) {
                    Ok(Some((v, id))) => Some(value_to_json(doc, &v, &id)),
                    _ => None,
                })
                .collect(),
        ),
        ObjType::Text => Json::String(doc.text(obj).unwrap_or_default()),
    }
}

fn scalar_to_json(s: &ScalarValue) -> Json {
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
