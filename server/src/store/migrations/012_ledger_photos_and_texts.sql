-- What the dashboard and the API show of a record, projected with the rest of the ledger
-- (and rebuilt with it): a hazard's photos, in page order, and a report's text.
CREATE TABLE ledger_photos (
    institution  TEXT NOT NULL,
    hazard_id    TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    event        TEXT NOT NULL,   -- reported (before), or the later event's kind (after)
    hash         TEXT NOT NULL,
    PRIMARY KEY (institution, hazard_id, seq)
) WITHOUT ROWID;

CREATE TABLE ledger_report_texts (
    institution  TEXT NOT NULL,
    id           TEXT NOT NULL,
    content      TEXT NOT NULL,   -- a weekly report's content, an incident's description
    PRIMARY KEY (institution, id)
) WITHOUT ROWID;
