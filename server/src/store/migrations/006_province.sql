-- The institution's weekly report to the province 报省厅 (Friday 15:00 unless a campaign
-- says otherwise). Not a document: only the safety office files it, from the dashboard,
-- and the province reads it here. Every filing is kept (a re-filing adds a row); the
-- first one's `received_at` (server time) judges lateness. `snapshot` is JSON: the week's
-- figures and the departments' statuses as they were when filed, so what was sent stays
-- readable after the ledger moves on. Not a ledger table: it is not derived from the
-- documents, so `rebuild-ledger` and the ledger dump leave it alone; a backup copies it.
CREATE TABLE institution_reports (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    institution  TEXT NOT NULL REFERENCES institutions(id),
    week         TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    by_user      TEXT NOT NULL,
    by_name      TEXT NOT NULL,
    all_clear    INTEGER NOT NULL,
    summary      TEXT NOT NULL,
    snapshot     TEXT NOT NULL
);
-- The institution's page (one week, its history) and the province's grid (a range of
-- weeks across institutions).
CREATE INDEX institution_reports_week ON institution_reports (institution, week, seq);
CREATE INDEX institution_reports_by_week ON institution_reports (week, institution, seq);

-- The week's rectifications and verifications are counted from the events by kind and
-- time.
CREATE INDEX ledger_events_kind ON ledger_events (institution, kind, at);
