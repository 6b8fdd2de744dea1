-- The web dashboard: sessions, the per-user actor the server writes dashboard actions
-- with, and the audit log (kept as long as the ledger: never pruned).

-- A session's token is random (256 bits) and kept only as SHA-256; the CSRF token is
-- per session and must come back in every form POST.
CREATE TABLE web_sessions (
    token_hash  BLOB PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);

-- Dashboard actions are Automerge changes by a device of the acting user, one per
-- (user, institution), registered like a phone (its token is never handed out).
CREATE TABLE web_devices (
    user_id      TEXT NOT NULL,
    institution  TEXT NOT NULL,
    device_id    TEXT NOT NULL REFERENCES devices(id),
    PRIMARY KEY (user_id, institution)
) WITHOUT ROWID;

CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    institution  TEXT,
    user_id      TEXT,
    login        TEXT NOT NULL,
    action       TEXT NOT NULL,
    detail       TEXT NOT NULL
);
CREATE INDEX audit_log_institution ON audit_log (institution, seq);

-- Ledger filters of the dashboard, newest first within each.
CREATE INDEX ledger_hazards_risk ON ledger_hazards (institution, risk_rank, reported_at);
CREATE INDEX ledger_hazards_category ON ledger_hazards (institution, category, reported_at);
CREATE INDEX ledger_hazards_site ON ledger_hazards (institution, site_id, reported_at);
CREATE INDEX ledger_reports_kind ON ledger_reports (institution, kind, week);
