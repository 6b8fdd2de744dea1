//! What the dashboard keeps while the server runs: its templates (embedded in the
//! binary), the incident webhook's address, and the incident streams each session holds
//! open.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub struct WebState {
    pub(crate) env: minijinja::Environment<'static>,
    /// Called with a JSON body for every new incident (`--incident-webhook`).
    pub webhook: Mutex<Option<String>>,
    /// Open incident streams per session (by the session token's hash).
    streams: Arc<Mutex<HashMap<[u8; 32], usize>>>,
}

/// Incident streams one session may hold open at once (a few tabs).
pub const STREAMS_PER_SESSION: usize = 4;

/// An open incident stream's place in its session's count; dropping it gives it back.
pub struct StreamSlot {
    key: [u8; 32],
    streams: Arc<Mutex<HashMap<[u8; 32], usize>>>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut m = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.key);
            }
        }
    }
}

impl WebState {
    /// A place for one more incident stream of the session (its token's hash), if it has fewer than
    /// `STREAMS_PER_SESSION` open.
    pub fn stream_slot(&self, session: [u8; 32]) -> Option<StreamSlot> {
        let mut m = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(session).or_insert(0);
        if *n >= STREAMS_PER_SESSION {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            key: session,
            streams: self.streams.clone(),
        })
    }
}

impl Default for WebState {
    fn default() -> Self {
        Self::new()
    }
}

macro_rules! templates {
    ($env:ident, $($name:literal),+) => {
        $( $env.add_template($name, include_str!(concat!("templates/", $name)))
            .expect(concat!("template ", $name)); )+
    };
}

impl WebState {
    pub fn new() -> Self {
        let mut env = minijinja::Environment::new();
        // Templates are part of the binary and checked by the tests: a broken one is a
        // programming error caught at start-up.
        templates!(
            env,
            "base.html",
            "login.html",
            "home.html",
            "ledger.html",
            "hazard.html",
            "overdue.html",
            "weekly.html",
            "incidents.html",
            "admin.html",
            "account.html",
            "notice.html",
            "letter.html",
            "error.html",
            "campaigns.html",
            "campaign.html",
            "figures.html",
            "summary.html",
            "duty.html",
            "checklists.html",
            "institution_week.html",
            "province.html"
        );
        env.add_filter("label", label);
        WebState {
            env,
            webhook: Mutex::new(None),
            streams: Default::default(),
        }
    }
}

/// `{{ code | label("risk") }}`: a code's label in the page's language.
fn label(state: &minijinja::State, code: Option<String>, kind: String) -> String {
    use saferound_core::model::*;
    let lang = match state
        .lookup("lang")
        .and_then(|v| v.as_str().map(str::to_string))
    {
        Some(l) if l == "en" => Lang::En,
        _ => Lang::Zh,
    };
    let Some(code) = code else {
        return String::new();
    };
    let l = match kind.as_str() {
        "risk" => code.parse::<RiskGrade>().ok().map(|x| x.label(lang)),
        "grade" => code.parse::<HazardGrade>().ok().map(|x| x.label(lang)),
        "category" => code.parse::<HazardCategory>().ok().map(|x| x.label(lang)),
        "status" => code.parse::<HazardStatus>().ok().map(|x| x.label(lang)),
        "event" => code.parse::<EventKind>().ok().map(|x| x.label(lang)),
        "role" => code.parse::<Role>().ok().map(|x| x.label(lang)),
        "site_kind" => code.parse::<SiteKind>().ok().map(|x| x.label(lang)),
        _ => None,
    };
    l.map(str::to_string).unwrap_or(code)
}
