//! Checklist templates: one per site kind built in, more from the institution's directory.
//! A template is identified by (id, version) and a version never changes once published,
//! so an inspection made with an older version keeps its items.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use super::builtin_templates::BUILTIN_TEMPLATES;
use super::{HazardCategory, Lang, RiskGrade, SiteKind};

/// A built-in template as written in the source.
pub struct TemplateDef {
    pub id: &'static str,
    pub version: u32,
    pub site_kind: SiteKind,
    pub title_zh: &'static str,
    pub title_en: &'static str,
    pub items: &'static [ItemDef],
}

/// One built-in checklist item.
pub struct ItemDef {
    pub code: &'static str,
    pub text_zh: &'static str,
    pub text_en: &'static str,
    pub category: HazardCategory,
    pub suggested_risk: RiskGrade,
}

/// A checklist template, built in or the institution's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct Template {
    pub id: String,
    pub version: u32,
    pub site_kind: SiteKind,
    pub title_zh: String,
    pub title_en: String,
    pub items: Vec<TemplateItem>,
    /// Built into the app rather than written by the institution.
    pub builtin: bool,
}

/// One question of a checklist; "pass" means compliant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hydrate, Reconcile)]
pub struct TemplateItem {
    pub code: String,
    pub text_zh: String,
    pub text_en: String,
    pub category: HazardCategory,
    /// The grade a failure of this item suggests for the finding.
    pub suggested_risk: RiskGrade,
}

impl Template {
    pub fn title(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.title_zh,
            Lang::En => &self.title_en,
        }
    }

    pub fn item(&self, code: &str) -> Option<&TemplateItem> {
        self.items.iter().find(|i| i.code == code)
    }

    /// The key under which a version is kept in the directory: versions sit side by
    /// side and are never overwritten.
    pub fn key(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }
}

impl TemplateItem {
    pub fn text(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.text_zh,
            Lang::En => &self.text_en,
        }
    }
}

impl From<&TemplateDef> for Template {
    fn from(d: &TemplateDef) -> Self {
        Template {
            id: d.id.to_string(),
            version: d.version,
            site_kind: d.site_kind,
            title_zh: d.title_zh.to_string(),
            title_en: d.title_en.to_string(),
            builtin: true,
            items: d
                .items
                .iter()
                .map(|i| TemplateItem {
                    code: i.code.to_string(),
                    text_zh: i.text_zh.to_string(),
                    text_en: i.text_en.to_string(),
                    category: i.category,
                    suggested_risk: i.suggested_risk,
                })
                .collect(),
        }
    }
}

/// Every version of every built-in template (converted once per process).
pub fn builtin() -> &'static [Template] {
    static ALL: std::sync::OnceLock<Vec<Template>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| BUILTIN_TEMPLATES.iter().map(Template::from).collect())
}

/// Picks, from `all`, the newest version of each template id.
pub fn latest(all: &[Template]) -> Vec<Template> {
    let mut newest: std::collections::BTreeMap<&str, &Template> = Default::default();
    for t in all {
        let slot = newest.entry(&t.id).or_insert(t);
        if t.version > slot.version {
            *slot = t;
        }
    }
    newest.into_values().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_site_kind_has_a_builtin_template_with_enough_items() {
        let all = builtin();
        for kind in SiteKind::ALL {
            let t = all
                .iter()
                .find(|t| t.site_kind == *kind)
                .unwrap_or_else(|| panic!("no template for {kind}"));
            let min = match kind {
                SiteKind::Dorm
                | SiteKind::Laboratory
                | SiteKind::HazardousChemicalStore
                | SiteKind::Kitchen => 12,
                _ => 6,
            };
            assert!(t.items.len() >= min, "{kind}: {} items", t.items.len());
        }
    }

    #[test]
    fn item_codes_are_unique_and_texts_present_in_both_languages() {
        let mut seen = HashSet::new();
        for t in builtin() {
            assert!(!t.title_zh.is_empty() && !t.title_en.is_empty());
            for i in &t.items {
                assert!(seen.insert(i.code.clone()), "duplicate code {}", i.code);
                assert!(!i.text_zh.trim().is_empty(), "{} has no zh text", i.code);
                assert!(!i.text_en.trim().is_empty(), "{} has no en text", i.code);
                assert!(i.text_zh.chars().any(|c| c > '\u{2E80}'), "{} zh", i.code);
            }
        }
    }

    #[test]
    fn latest_picks_the_newest_version_per_id() {
        let mut v1 = builtin()[0].clone();
        let mut v2 = v1.clone();
        v2.version = 2;
        v2.items.truncate(1);
        v1.builtin = false;
        let l = latest(&[v2.clone(), v1]);
        assert_eq!(l, vec![v2]);
    }
}
