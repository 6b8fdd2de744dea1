//! The institution's own checklist templates: the safety office writes a new one, or
//! starts from a built-in one and extends it. A published version never changes; an edit
//! publishes the next version and every earlier one is kept, so an inspection made with
//! version 1 still validates against version 1 after version 2 is out. Versions live in
//! `institution_templates` and reach the phones in the directory document
//! (`directory::refresh`), keyed `id@version` side by side.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use saferound_core::model::templates::{self, Template, TemplateItem};
use saferound_core::model::{HazardCategory, Lang, RiskGrade, SiteKind};
use serde_json::json;

use super::form::{Acting as _, Office, Posted};
use super::{Web, error_page, render};
use crate::state::AppState;

pub const MAX_ITEMS: usize = 200;
pub const MAX_ITEM_CHARS: usize = 500;
pub const MAX_TITLE_CHARS: usize = 100;
/// Template versions an institution may publish in all: every version travels in the
/// directory document to every phone, so their number is bounded (each is bounded by
/// the form's size).
pub const MAX_VERSIONS: usize = 100;

/// Items, one per line: `code | 中文 | English | category | risk` (English may be empty).
pub fn parse_items(s: &str) -> Result<Vec<TemplateItem>, String> {
    let mut out: Vec<TemplateItem> = Vec::new();
    for (n, line) in s
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let bad = |why: &str| format!("items, line {}: {why}", n + 1);
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        let [code, zh, en, category, risk] = parts[..] else {
            return Err(bad("code | 中文 | English | category | risk"));
        };
        if code.is_empty()
            || code.len() > 32
            || !code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(bad("code: 1 to 32 letters, digits, - or _"));
        }
        if out.iter().any(|i| i.code == code) {
            return Err(bad("code used twice"));
        }
        if zh.is_empty()
            || zh.chars().count() > MAX_ITEM_CHARS
            || en.chars().count() > MAX_ITEM_CHARS
        {
            return Err(bad("text: 1 to 500 characters"));
        }
        out.push(TemplateItem {
            code: code.into(),
            text_zh: zh.into(),
            text_en: if en.is_empty() { zh.into() } else { en.into() },
            category: category
                .parse::<HazardCategory>()
                .map_err(|_| bad("category: a category code"))?,
            suggested_risk: risk
                .parse::<RiskGrade>()
                .map_err(|_| bad("risk: a risk grade code"))?,
        });
        if out.len() > MAX_ITEMS {
            return Err(format!("items: at most {MAX_ITEMS}"));
        }
    }
    if out.is_empty() {
        return Err("items: at least one".into());
    }
    Ok(out)
}

/// The items as the form shows them, one per line.
pub fn items_text(t: &Template) -> String {
    t.items
        .iter()
        .map(|i| {
            format!(
                "{} | {} | {} | {} | {}",
                i.code,
                i.text_zh,
                i.text_en,
                i.category.code(),
                i.suggested_risk.code()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn summary(t: &Template, lang: Lang) -> serde_json::Value {
    json!({
        "id": t.id, "version": t.version, "title": t.title(lang), "site_kind": t.site_kind.code(),
        "items": t.items.len(), "builtin": t.builtin,
    })
}

/// `GET /checklists`: built-in and institution templates; `?from=<id>` prefills the new
/// template form with that template's newest items, `?edit=<id>` the next version's.
pub async fn page(
    State(state): State<AppState>,
    web: Web,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !web.reads_all() {
        return super::forbidden(&state, &web);
    }
    let Some(inst) = web
        .scope()
        .or_else(|| q.get("institution").and_then(|i| i.parse().ok()))
    else {
        return error_page(&state, web.lang, StatusCode::NOT_FOUND, "no institution");
    };
    let own = match state.storage.templates(inst).await {
        Ok(t) => t,
        Err(e) => {
            return error_page(
                &state,
                web.lang,
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.to_string(),
            );
        }
    };
    let builtin = templates::latest(templates::builtin());
    let latest_own = templates::latest(&own);
    let mut versions: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
    for t in &own {
        versions
            .entry(&t.id)
            .or_default()
            .push(summary(t, web.lang));
    }
    let pick = |key: &str| -> Option<&Template> {
        let id = q.get(key)?;
        latest_own
            .iter()
            .chain(builtin.iter())
            .find(|t| &t.id == id)
    };
    let edit = pick("edit").filter(|t| !t.builtin);
    let from = edit.or_else(|| pick("from"));
    render(
        &state,
        Some(&web),
        web.lang,
        "checklists.html",
        "/checklists",
        json!({
            "own": latest_own.iter().map(|t| {
                let mut v = summary(t, web.lang);
                v["versions"] = json!(versions.get(t.id.as_str()));
                v
            }).collect::<Vec<_>>(),
            "builtin": builtin.iter().map(|t| summary(t, web.lang)).collect::<Vec<_>>(),
            "can_edit": Office::acts_for(&web) == Some(inst),
            "edit": edit.map(|t| json!({"id": t.id, "version": t.version + 1})),
            "form": from.map(|t| json!({
                "title_zh": t.title_zh, "title_en": t.title_en, "site_kind": t.site_kind.code(),
                "items": items_text(t),
                "from": t.id,
            })),
            "site_kinds": SiteKind::ALL.iter().map(|k| k.code()).collect::<Vec<_>>(),
            "categories": HazardCategory::ALL.iter().map(|k| k.code()).collect::<Vec<_>>(),
            "risks": RiskGrade::ALL.iter().map(|k| k.code()).collect::<Vec<_>>(),
        }),
    )
}

fn text(f: &HashMap<String, String>, k: &str, required: bool) -> Result<String, String> {
    let v = f.get(k).map(|v| v.trim()).unwrap_or("");
    if (required && v.is_empty()) || v.chars().count() > MAX_TITLE_CHARS {
        return Err(format!(
            "{k}: required, at most {MAX_TITLE_CHARS} characters"
        ));
    }
    Ok(v.to_string())
}

/// `POST /checklists`: publishes a template — version 1 of a new one (no `id`), or the
/// next version of one of the institution's own (`id`).
pub async fn publish(
    State(state): State<AppState>,
    Posted {
        web,
        form: f,
        acting_for: inst,
        ..
    }: Posted<Office>,
) -> Response {
    let own = match state.storage.templates(inst).await {
        Ok(t) => t,
        Err(e) => {
            return error_page(
                &state,
                web.lang,
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.to_string(),
            );
        }
    };
    if own.len() >= MAX_VERSIONS {
        return error_page(
            &state,
            web.lang,
            StatusCode::CONFLICT,
            &format!("at most {MAX_VERSIONS} template versions per institution"),
        );
    }
    let built = (|| -> Result<Template, String> {
        let title_zh = text(&f, "title_zh", true)?;
        let title_en = text(&f, "title_en", false)?;
        let (id, version) = match f.get("id").map(|s| s.trim()).filter(|s| !s.is_empty()) {
            // Only the institution's own templates get new versions here; a built-in one is
            // extended by starting a new template from it.
            Some(id) => {
                let newest = own
                    .iter()
                    .filter(|t| t.id == id)
                    .map(|t| t.version)
                    .max()
                    .ok_or("id: not one of the institution's templates")?;
                (id.to_string(), newest + 1)
            }
            None => (
                format!("inst-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
                1,
            ),
        };
        Ok(Template {
            id,
            version,
            site_kind: f
                .get("site_kind")
                .map(String::as_str)
                .unwrap_or("")
                .parse::<SiteKind>()
                .map_err(|_| "site_kind: a site kind code".to_string())?,
            title_en: if title_en.is_empty() {
                title_zh.clone()
            } else {
                title_en
            },
            title_zh,
            items: parse_items(f.get("items").map(String::as_str).unwrap_or(""))?,
            builtin: false,
        })
    })();
    let t = match built {
        Ok(t) => t,
        Err(e) => return error_page(&state, web.lang, StatusCode::BAD_REQUEST, &e),
    };
    if let Err(e) = state.storage.add_template(inst, &t, web.user.id).await {
        let status = match e {
            crate::store::StoreError::Conflict(_) => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        return error_page(&state, web.lang, status, &e.to_string());
    }
    if let Err(e) = crate::directory::refresh(&state, inst).await {
        return error_page(
            &state,
            web.lang,
            StatusCode::INTERNAL_SERVER_ERROR,
            &e.to_string(),
        );
    }
    super::audit_action(
        &state,
        &web,
        "checklist_publish",
        &format!("{} ({} items)", t.key(), t.items.len()),
    )
    .await;
    Redirect::to(&format!("/checklists?published={}", t.key())).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip_and_bad_lines_are_refused() {
        let items = parse_items(
            "A-1 | 宿舍无违规电器 | No banned appliances | fire_safety | significant\n\nA-2 | 门禁正常 |  | gate_control | low",
        )
        .unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].text_en, "门禁正常");
        let t = Template {
            id: "x".into(),
            version: 1,
            site_kind: SiteKind::Dorm,
            title_zh: "x".into(),
            title_en: "x".into(),
            items: items.clone(),
            builtin: false,
        };
        assert_eq!(parse_items(&items_text(&t)).unwrap(), items);
        for bad in [
            "",
            "A-1 | x | y | fire_safety",
            "A 1 | x | y | fire_safety | low",
            "A-1 | x | y | nonsense | low",
            "A-1 | x | y | fire_safety | extreme",
            "A-1 | x | y | fire_safety | low\nA-1 | z | z | fire_safety | low",
            "A-1 |  | y | fire_safety | low",
        ] {
            assert!(parse_items(bad).is_err(), "{bad}");
        }
    }
}
