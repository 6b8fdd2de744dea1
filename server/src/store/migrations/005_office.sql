-- The safety office: per-institution time zone, campaigns, the duty roster, and the
-- institution's own checklist templates.

-- A fixed UTC offset is all the deadlines need (China has no daylight saving); the IANA
-- name is kept for people.
ALTER TABLE institutions ADD COLUMN utc_offset_minutes INTEGER NOT NULL DEFAULT 480;
ALTER TABLE institutions ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'Asia/Shanghai';

-- A campaign 专项行动: dates are local dates of the institution, both ends included.
-- `phases` is a JSON list of {name_zh, name_en, starts, ends}. Weekly report deadlines
-- are a weekday (1 = Monday … 7 = Sunday) and a minute of the day, local time.
CREATE TABLE campaigns (
    id              TEXT PRIMARY KEY,
    institution     TEXT NOT NULL REFERENCES institutions(id),
    name            TEXT NOT NULL,
    starts          TEXT NOT NULL,
    ends            TEXT NOT NULL,
    summary_due     TEXT,
    phases          TEXT NOT NULL,
    dept_due_day    INTEGER NOT NULL,
    dept_due_minute INTEGER NOT NULL,
    inst_due_day    INTEGER NOT NULL,
    inst_due_minute INTEGER NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX campaigns_institution ON campaigns (institution, starts);

-- Campaign membership of records without a campaign tag is by date (see ARCHITECTURE.md);
-- these make the campaign summary's range scans indexed.
CREATE INDEX ledger_inspections_started ON ledger_inspections (institution, started_at);
CREATE INDEX ledger_hazards_campaign ON ledger_hazards (institution, campaign, reported_at);

-- Duty 值班: slots are UTC instants [starts, ends); holidays are local dates, both ends
-- included, and must be covered by slots around the clock.
CREATE TABLE duty_slots (
    id            TEXT PRIMARY KEY,
    institution   TEXT NOT NULL REFERENCES institutions(id),
    starts        TEXT NOT NULL,
    ends          TEXT NOT NULL,
    officer       TEXT NOT NULL,
    officer_phone TEXT NOT NULL,
    leader        TEXT NOT NULL,
    leader_phone  TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX duty_slots_time ON duty_slots (institution, starts);

CREATE TABLE holidays (
    id           TEXT PRIMARY KEY,
    institution  TEXT NOT NULL REFERENCES institutions(id),
    name         TEXT NOT NULL,
    starts       TEXT NOT NULL,
    ends         TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

-- The institution's own checklist templates, every version (a published version never
-- changes; an edit is a new version). `body` is the template as JSON. The directory
-- document carries them to the phones.
CREATE TABLE institution_templates (
    institution  TEXT NOT NULL REFERENCES institutions(id),
    id           TEXT NOT NULL,
    version      INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (institution, id, version)
) WITHOUT ROWID;
