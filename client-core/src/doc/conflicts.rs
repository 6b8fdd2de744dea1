//! Conflicts: a key that devices set concurrently holds every competing value until
//! someone writes over all of them. Automerge picks the same winner on every device; the
//! domain rules pick differently for the risk grade (the higher) and the deadline (the
//! earlier). Either way the conflict is reported — field, competing values, who wrote
//! them — so the safety office can settle it, never silently dropped.

use automerge::{AutoCommit, ObjId, ObjType, ROOT, ReadDoc, Value};
use serde::Serialize;

use super::json::value_to_json;
use super::{PersonRef, author_of};

/// One field that holds concurrent values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    /// Path of the field, e.g. `risk`, `plan.deadline`, `answers.DORM-03.result`.
    pub field: String,
    pub values: Vec<CompetingValue>,
    /// The value that stands and why.
    pub resolution: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompetingValue {
    pub value: serde_json::Value,
    /// The person the writing actor recorded itself as, when known.
    pub written_by: Option<PersonRef>,
    /// The Automerge actor that wrote it (hex).
    pub actor: String,
}

/// Whether any change was made concurrently with another (some change depends on more
/// than one earlier change, or there are several heads). Without concurrency there can be
/// no conflict, so the costly `scan` can be skipped.
pub fn had_concurrency(doc: &mut AutoCommit) -> bool {
    doc.get_heads().len() > 1 || doc.get_changes_meta(&[]).iter().any(|c| c.deps.len() > 1)
}

/// Every key in the document that holds more than one value, outside bookkeeping maps.
pub fn scan(doc: &AutoCommit) -> Vec<Conflict> {
    let mut out = Vec::new();
    walk(doc, &ROOT, ObjType::Map, "", &mut out);
    out
}

fn walk(doc: &AutoCommit, obj: &ObjId, t: ObjType, path: &str, out: &mut Vec<Conflict>) {
    match t {
        ObjType::Map | ObjType::Table => {
            for key in doc.keys(obj) {
                if path.is_empty() && key == "authors" {
                    continue;
                }
                let field = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let all = doc.get_all(obj, key.as_str()).unwrap_or_default();
                if all.len() > 1 {
                    push_if_different(out, conflict(doc, field.clone(), &all));
                }
                if let Ok(Some((Value::Object(ct), child))) = doc.get(obj, key.as_str()) {
                    walk(doc, &child, ct, &field, out);
                }
            }
        }
        ObjType::List => {
            for i in 0..doc.length(obj) {
                let field = format!("{path}[{i}]");
                let all = doc.get_all(obj, i).unwrap_or_default();
                if all.len() > 1 {
                    push_if_different(out, conflict(doc, field.clone(), &all));
                }
                if let Ok(Some((Value::Object(ct), child))) = doc.get(obj, i) {
                    walk(doc, &child, ct, &field, out);
                }
            }
        }
        ObjType::Text => {}
    }
}

/// Two devices writing the same value at once is no disagreement.
fn push_if_different(out: &mut Vec<Conflict>, c: Conflict) {
    if c.values.windows(2).any(|w| w[0].value != w[1].value) {
        out.push(c);
    }
}

fn conflict(doc: &AutoCommit, field: String, all: &[(Value<'_>, automerge::ObjId)]) -> Conflict {
    let values = all
        .iter()
        .map(|(v, id)| {
            let actor = match id {
                automerge::ObjId::Id(_, actor, _) => actor.to_hex_string(),
                automerge::ObjId::Root => String::new(),
            };
            CompetingValue {
                value: value_to_json(doc, v, id),
                written_by: author_of(doc, &actor),
                actor,
            }
        })
        .collect();
    Conflict {
        field,
        values,
        resolution:
            "kept the value Automerge picks (the same on every device) until someone settles it"
                .into(),
    }
}
