-- The institution's weekly report to the province (SQLite's 006; see there).
-- An identity column is fine here (unlike the feed): nobody follows it with a cursor.
CREATE TABLE institution_reports (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    institution  TEXT COLLATE "C" NOT NULL REFERENCES institutions(id),
    week         TEXT COLLATE "C" NOT NULL,
    received_at  TEXT COLLATE "C" NOT NULL,
    by_user      TEXT COLLATE "C" NOT NULL,
    by_name      TEXT COLLATE "C" NOT NULL,
    all_clear    BOOLEAN NOT NULL,
    summary      TEXT COLLATE "C" NOT NULL,
    snapshot     TEXT COLLATE "C" NOT NULL
);
CREATE INDEX institution_reports_week ON institution_reports (institution, week, seq);
CREATE INDEX institution_reports_by_week ON institution_reports (week, institution, seq);

CREATE INDEX ledger_events_kind ON ledger_events (institution, kind, at);
