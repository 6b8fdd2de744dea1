-- The ledger: relational rows derived deterministically from the merged documents,
-- written in the same transaction as the documents, rebuilt from them by
-- `saferound-server rebuild-ledger`. Time-dependent facts (overdue) are not stored.
CREATE TABLE ledger_hazards (
    institution       TEXT NOT NULL,
    id                TEXT NOT NULL,
    campaign          TEXT,
    inspection        TEXT,
    site_id           TEXT NOT NULL,
    site_name         TEXT NOT NULL,
    site_kind         TEXT NOT NULL,
    category          TEXT NOT NULL,
    risk              TEXT NOT NULL,
    risk_rank         INTEGER NOT NULL,
    hazard_grade      TEXT NOT NULL,
    status            TEXT,
    supervised        INTEGER NOT NULL,
    location          TEXT NOT NULL,
    description       TEXT NOT NULL,
    reported_by       TEXT NOT NULL,
    reported_by_name  TEXT NOT NULL,
    reported_at       TEXT NOT NULL,
    measure           TEXT NOT NULL,
    funds             TEXT NOT NULL,
    responsible       TEXT,
    responsible_name  TEXT,
    deadline          TEXT,
    contingency       TEXT NOT NULL,
    reinspector       TEXT,
    reinspector_name  TEXT,
    rectified_at      TEXT,
    verified_at       TEXT,
    verification_note TEXT,
    conflicts         INTEGER NOT NULL,
    PRIMARY KEY (institution, id)
) WITHOUT ROWID;
CREATE INDEX ledger_hazards_status ON ledger_hazards (institution, status, deadline);
CREATE INDEX ledger_hazards_reported ON ledger_hazards (institution, reported_at);

CREATE TABLE ledger_events (
    institution  TEXT NOT NULL,
    hazard_id    TEXT NOT NULL,
    idx          INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    by_user      TEXT NOT NULL,
    by_name      TEXT NOT NULL,
    at           TEXT NOT NULL,
    note         TEXT NOT NULL,
    skipped      INTEGER NOT NULL,
    PRIMARY KEY (institution, hazard_id, idx)
) WITHOUT ROWID;

CREATE TABLE ledger_inspections (
    institution       TEXT NOT NULL,
    id                TEXT NOT NULL,
    campaign          TEXT,
    site_id           TEXT NOT NULL,
    site_name         TEXT NOT NULL,
    site_kind         TEXT NOT NULL,
    template          TEXT NOT NULL,
    template_version  INTEGER NOT NULL,
    inspectors        TEXT NOT NULL,
    started_at        TEXT NOT NULL,
    submitted_at      TEXT,
    answers           INTEGER NOT NULL,
    failed            INTEGER NOT NULL,
    findings          INTEGER NOT NULL,
    PRIMARY KEY (institution, id)
) WITHOUT ROWID;

CREATE TABLE ledger_answers (
    institution    TEXT NOT NULL,
    inspection_id  TEXT NOT NULL,
    item           TEXT NOT NULL,
    result         TEXT NOT NULL,
    note           TEXT NOT NULL,
    by_user        TEXT NOT NULL,
    at             TEXT NOT NULL,
    PRIMARY KEY (institution, inspection_id, item)
) WITHOUT ROWID;

CREATE TABLE ledger_conflicts (
    institution  TEXT NOT NULL,
    doc_id       TEXT NOT NULL,
    field        TEXT NOT NULL,
    competing    TEXT NOT NULL,   -- JSON: the competing values and who wrote them
    resolution   TEXT NOT NULL,
    PRIMARY KEY (institution, doc_id, field)
) WITHOUT ROWID;

CREATE TABLE ledger_reports (
    institution  TEXT NOT NULL,
    id           TEXT NOT NULL,
    kind         TEXT NOT NULL,   -- weekly_report | incident_report
    department   TEXT,
    week         TEXT,
    all_clear    INTEGER,
    title        TEXT NOT NULL,
    filed_at     TEXT,            -- the phone's time of the first filing
    PRIMARY KEY (institution, id)
) WITHOUT ROWID;
