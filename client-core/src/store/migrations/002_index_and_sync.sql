-- A projection of each document for lists and filters, derived from the document and
-- rebuilt from documents alone (see store::index). Lists never load every document.
CREATE TABLE doc_index (
    id           TEXT PRIMARY KEY REFERENCES documents(id),
    kind         TEXT NOT NULL,
    campaign     TEXT,
    site_id      TEXT,
    site_name    TEXT,
    site_kind    TEXT,
    category     TEXT,
    risk         TEXT,
    risk_rank    INTEGER,
    status       TEXT,
    deadline     TEXT,
    title        TEXT NOT NULL DEFAULT '',
    responsible  TEXT,
    reinspector  TEXT,
    inspection   TEXT,
    department   TEXT,
    week         TEXT,
    submitted    INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    conflicts    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX doc_index_kind_created ON doc_index (kind, created_at);
CREATE INDEX doc_index_kind_status ON doc_index (kind, status, deadline);

-- The heads the server last acknowledged per document: a local change counts as synced
-- once it is an ancestor of these.
CREATE TABLE server_heads (
    doc_id  TEXT PRIMARY KEY REFERENCES documents(id),
    heads   BLOB NOT NULL
) WITHOUT ROWID;
