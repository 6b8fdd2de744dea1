-- The PostgreSQL schema: the same tables and columns, in the same order, as SQLite's
-- migrations 001–005 (store/migrations), so rows and `ledger_dump` compare equal.
-- Text is COLLATE "C" (byte order, as SQLite compares): ids, RFC 3339 times and dates
-- sort and compare the same way in both, whatever the database's locale. Blobs are
-- BYTEA, integers BIGINT, flags BOOLEAN (dumped as 0/1, as SQLite stores them).

CREATE TABLE institutions (
    id                  TEXT COLLATE "C" PRIMARY KEY,
    name                TEXT COLLATE "C" NOT NULL,
    created_at          TEXT COLLATE "C" NOT NULL,
    utc_offset_minutes  INTEGER NOT NULL DEFAULT 480,
    time_zone           TEXT COLLATE "C" NOT NULL DEFAULT 'Asia/Shanghai'
);

CREATE TABLE departments (
    id           TEXT COLLATE "C" PRIMARY KEY,
    institution  TEXT COLLATE "C" NOT NULL REFERENCES institutions(id),
    name         TEXT COLLATE "C" NOT NULL
);

CREATE TABLE sites (
    id           TEXT COLLATE "C" PRIMARY KEY,
    institution  TEXT COLLATE "C" NOT NULL REFERENCES institutions(id),
    department   TEXT COLLATE "C" NOT NULL REFERENCES departments(id),
    name         TEXT COLLATE "C" NOT NULL,
    kind         TEXT COLLATE "C" NOT NULL,
    building     TEXT COLLATE "C" NOT NULL DEFAULT '',
    floor_room   TEXT COLLATE "C" NOT NULL DEFAULT ''
);

CREATE TABLE users (
    id             TEXT COLLATE "C" PRIMARY KEY,
    institution    TEXT COLLATE "C",               -- NULL for provincial reviewers
    department     TEXT COLLATE "C",
    login          TEXT COLLATE "C" NOT NULL UNIQUE,
    name           TEXT COLLATE "C" NOT NULL,
    roles          TEXT COLLATE "C" NOT NULL,      -- comma-separated role codes
    password_hash  TEXT COLLATE "C" NOT NULL,      -- argon2id PHC string
    active         BOOLEAN NOT NULL DEFAULT TRUE,
    created_at     TEXT COLLATE "C" NOT NULL
);

CREATE TABLE devices (
    id           TEXT COLLATE "C" PRIMARY KEY,
    user_id      TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    institution  TEXT COLLATE "C" NOT NULL,
    actor        BYTEA NOT NULL UNIQUE,
    token_hash   BYTEA NOT NULL UNIQUE,
    name         TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at   TEXT COLLATE "C" NOT NULL,
    revoked_at   TEXT COLLATE "C",
    last_sync_at TEXT COLLATE "C"
);
CREATE INDEX devices_institution ON devices (institution);

CREATE TABLE server_actors (
    actor       BYTEA PRIMARY KEY,
    user_id     TEXT COLLATE "C",
    created_at  TEXT COLLATE "C" NOT NULL
);

CREATE TABLE documents (
    institution   TEXT COLLATE "C" NOT NULL,
    id            TEXT COLLATE "C" NOT NULL,
    kind          TEXT COLLATE "C" NOT NULL,
    snapshot      BYTEA NOT NULL,
    snapshot_seq  BIGINT NOT NULL,
    heads         BYTEA NOT NULL,
    bytes         BIGINT NOT NULL,
    updated_at    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (institution, id)
);

-- The change feed. `seq` is the cursor devices keep. It is not a sequence: with several
-- server processes, sequence values are handed out at insert and commit in any order, so
-- seq 11 could be visible before seq 10 and a reader's cursor would skip 10 for good.
-- Instead a commit inserts its changes with seq NULL (never visible so: they get their
-- seq before the transaction commits) and, as its last step, takes the next n numbers
-- from `feed_counter` (see `store::sql::postgres::assign_feed_positions`).
CREATE TABLE changes (
    seq          BIGINT UNIQUE,
    institution  TEXT COLLATE "C" NOT NULL,
    doc_id       TEXT COLLATE "C" NOT NULL,
    hash         BYTEA NOT NULL,
    actor        BYTEA NOT NULL,
    bytes        BYTEA NOT NULL,
    received_at  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (institution, doc_id, hash)
);
CREATE INDEX changes_feed ON changes (institution, seq);
CREATE INDEX changes_doc ON changes (institution, doc_id, seq);

-- One row: the last seq handed out. Its row lock orders seq assignment by commit.
CREATE TABLE feed_counter (
    one  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    seq  BIGINT NOT NULL
);
INSERT INTO feed_counter (one, seq) VALUES (TRUE, 0);

CREATE TABLE meta (
    key    TEXT COLLATE "C" PRIMARY KEY,
    value  TEXT COLLATE "C" NOT NULL
);

-- The ledger (SQLite's 002): rows derived from the merged documents.
CREATE TABLE ledger_hazards (
    institution       TEXT COLLATE "C" NOT NULL,
    id                TEXT COLLATE "C" NOT NULL,
    campaign          TEXT COLLATE "C",
    inspection        TEXT COLLATE "C",
    site_id           TEXT COLLATE "C" NOT NULL,
    site_name         TEXT COLLATE "C" NOT NULL,
    site_kind         TEXT COLLATE "C" NOT NULL,
    category          TEXT COLLATE "C" NOT NULL,
    risk              TEXT COLLATE "C" NOT NULL,
    risk_rank         BIGINT NOT NULL,
    hazard_grade      TEXT COLLATE "C" NOT NULL,
    status            TEXT COLLATE "C",
    supervised        BOOLEAN NOT NULL,
    location          TEXT COLLATE "C" NOT NULL,
    description       TEXT COLLATE "C" NOT NULL,
    reported_by       TEXT COLLATE "C" NOT NULL,
    reported_by_name  TEXT COLLATE "C" NOT NULL,
    reported_at       TEXT COLLATE "C" NOT NULL,
    measure           TEXT COLLATE "C" NOT NULL,
    funds             TEXT COLLATE "C" NOT NULL,
    responsible       TEXT COLLATE "C",
    responsible_name  TEXT COLLATE "C",
    deadline          TEXT COLLATE "C",
    contingency       TEXT COLLATE "C" NOT NULL,
    reinspector       TEXT COLLATE "C",
    reinspector_name  TEXT COLLATE "C",
    rectified_at      TEXT COLLATE "C",
    verified_at       TEXT COLLATE "C",
    verification_note TEXT COLLATE "C",
    conflicts         BIGINT NOT NULL,
    PRIMARY KEY (institution, id)
);
CREATE INDEX ledger_hazards_status ON ledger_hazards (institution, status, deadline);
CREATE INDEX ledger_hazards_reported ON ledger_hazards (institution, reported_at);
CREATE INDEX ledger_hazards_risk ON ledger_hazards (institution, risk_rank, reported_at);
CREATE INDEX ledger_hazards_category ON ledger_hazards (institution, category, reported_at);
CREATE INDEX ledger_hazards_site ON ledger_hazards (institution, site_id, reported_at);
CREATE INDEX ledger_hazards_campaign ON ledger_hazards (institution, campaign, reported_at);

CREATE TABLE ledger_events (
    institution  TEXT COLLATE "C" NOT NULL,
    hazard_id    TEXT COLLATE "C" NOT NULL,
    idx          BIGINT NOT NULL,
    kind         TEXT COLLATE "C" NOT NULL,
    by_user      TEXT COLLATE "C" NOT NULL,
    by_name      TEXT COLLATE "C" NOT NULL,
    at           TEXT COLLATE "C" NOT NULL,
    note         TEXT COLLATE "C" NOT NULL,
    skipped      BOOLEAN NOT NULL,
    PRIMARY KEY (institution, hazard_id, idx)
);

CREATE TABLE ledger_inspections (
    institution       TEXT COLLATE "C" NOT NULL,
    id                TEXT COLLATE "C" NOT NULL,
    campaign          TEXT COLLATE "C",
    site_id           TEXT COLLATE "C" NOT NULL,
    site_name         TEXT COLLATE "C" NOT NULL,
    site_kind         TEXT COLLATE "C" NOT NULL,
    template          TEXT COLLATE "C" NOT NULL,
    template_version  BIGINT NOT NULL,
    inspectors        TEXT COLLATE "C" NOT NULL,
    started_at        TEXT COLLATE "C" NOT NULL,
    submitted_at      TEXT COLLATE "C",
    answers           BIGINT NOT NULL,
    failed            BIGINT NOT NULL,
    findings          BIGINT NOT NULL,
    PRIMARY KEY (institution, id)
);
CREATE INDEX ledger_inspections_started ON ledger_inspections (institution, started_at);

CREATE TABLE ledger_answers (
    institution    TEXT COLLATE "C" NOT NULL,
    inspection_id  TEXT COLLATE "C" NOT NULL,
    item           TEXT COLLATE "C" NOT NULL,
    result         TEXT COLLATE "C" NOT NULL,
    note           TEXT COLLATE "C" NOT NULL,
    by_user        TEXT COLLATE "C" NOT NULL,
    at             TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (institution, inspection_id, item)
);

CREATE TABLE ledger_conflicts (
    institution  TEXT COLLATE "C" NOT NULL,
    doc_id       TEXT COLLATE "C" NOT NULL,
    field        TEXT COLLATE "C" NOT NULL,
    competing    TEXT COLLATE "C" NOT NULL,
    resolution   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (institution, doc_id, field)
);

CREATE TABLE ledger_reports (
    institution  TEXT COLLATE "C" NOT NULL,
    id           TEXT COLLATE "C" NOT NULL,
    kind         TEXT COLLATE "C" NOT NULL,
    department   TEXT COLLATE "C",
    week         TEXT COLLATE "C",
    all_clear    BOOLEAN,
    title        TEXT COLLATE "C" NOT NULL,
    filed_at     TEXT COLLATE "C",
    PRIMARY KEY (institution, id)
);
CREATE INDEX ledger_reports_kind ON ledger_reports (institution, kind, week);

-- Photos (SQLite's 003).
CREATE TABLE blobs (
    institution   TEXT COLLATE "C" NOT NULL,
    hash          TEXT COLLATE "C" NOT NULL,
    size          BIGINT NOT NULL,
    content_type  TEXT COLLATE "C" NOT NULL,
    received_at   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (institution, hash)
);

-- The web dashboard (SQLite's 004).
CREATE TABLE web_sessions (
    token_hash  BYTEA PRIMARY KEY,
    user_id     TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    csrf        TEXT COLLATE "C" NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL,
    expires_at  TEXT COLLATE "C" NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

CREATE TABLE web_devices (
    user_id      TEXT COLLATE "C" NOT NULL,
    institution  TEXT COLLATE "C" NOT NULL,
    device_id    TEXT COLLATE "C" NOT NULL REFERENCES devices(id),
    PRIMARY KEY (user_id, institution)
);

-- An identity column is fine here (unlike the feed): nobody pages the audit log by a
-- cursor that a late commit could fall behind.
CREATE TABLE audit_log (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           TEXT COLLATE "C" NOT NULL,
    institution  TEXT COLLATE "C",
    user_id      TEXT COLLATE "C",
    login        TEXT COLLATE "C" NOT NULL,
    action       TEXT COLLATE "C" NOT NULL,
    detail       TEXT COLLATE "C" NOT NULL
);
CREATE INDEX audit_log_institution ON audit_log (institution, seq);

-- The safety office (SQLite's 005).
CREATE TABLE campaigns (
    id              TEXT COLLATE "C" PRIMARY KEY,
    institution     TEXT COLLATE "C" NOT NULL REFERENCES institutions(id),
    name            TEXT COLLATE "C" NOT NULL,
    starts          TEXT COLLATE "C" NOT NULL,
    ends            TEXT COLLATE "C" NOT NULL,
    summary_due     TEXT COLLATE "C",
    phases          TEXT COLLATE "C" NOT NULL,
    dept_due_day    BIGINT NOT NULL,
    dept_due_minute BIGINT NOT NULL,
    inst_due_day    BIGINT NOT NULL,
    inst_due_minute BIGINT NOT NULL,
    created_at      TEXT COLLATE "C" NOT NULL
);
CREATE INDEX campaigns_institution ON campaigns (institution, starts);

CREATE TABLE duty_slots (
    id            TEXT COLLATE "C" PRIMARY KEY,
    institution   TEXT COLLATE "C" NOT NULL REFERENCES institutions(id),
    starts        TEXT COLLATE "C" NOT NULL,
    ends          TEXT COLLATE "C" NOT NULL,
    officer       TEXT COLLATE "C" NOT NULL,
    officer_phone TEXT COLLATE "C" NOT NULL,
    leader        TEXT COLLATE "C" NOT NULL,
    leader_phone  TEXT COLLATE "C" NOT NULL,
    created_at    TEXT COLLATE "C" NOT NULL
);
CREATE INDEX duty_slots_time ON duty_slots (institution, starts);

CREATE TABLE holidays (
    id           TEXT COLLATE "C" PRIMARY KEY,
    institution  TEXT COLLATE "C" NOT NULL REFERENCES institutions(id),
    name         TEXT COLLATE "C" NOT NULL,
    starts       TEXT COLLATE "C" NOT NULL,
    ends         TEXT COLLATE "C" NOT NULL,
    created_at   TEXT COLLATE "C" NOT NULL
);

CREATE TABLE institution_templates (
    institution  TEXT COLLATE "C" NOT NULL REFERENCES institutions(id),
    id           TEXT COLLATE "C" NOT NULL,
    version      BIGINT NOT NULL,
    body         TEXT COLLATE "C" NOT NULL,
    created_by   TEXT COLLATE "C" NOT NULL,
    created_at   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (institution, id, version)
);
