-- The device's identity: exactly one row once initialised.
CREATE TABLE device (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    device_id    TEXT NOT NULL,
    actor        BLOB NOT NULL,            -- the Automerge actor of this installation
    institution  TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    user_name    TEXT NOT NULL,
    roles        TEXT NOT NULL,            -- comma-separated role codes
    department   TEXT,
    server_url   TEXT,
    sync_cursor  INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL
);

-- One row per document: a compacted snapshot (Automerge `save()`), plus the changes
-- appended since in `changes`. Loading concatenates both.
CREATE TABLE documents (
    id        TEXT PRIMARY KEY,
    kind      TEXT NOT NULL,
    snapshot  BLOB NOT NULL,
    heads     BLOB NOT NULL,               -- current heads, 32 bytes each, sorted
    updated_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE changes (
    doc_id  TEXT NOT NULL REFERENCES documents(id),
    seq     INTEGER NOT NULL,
    bytes   BLOB NOT NULL,                 -- Automerge `save_after()` chunk
    PRIMARY KEY (doc_id, seq)
) WITHOUT ROWID;

-- Photos, addressed by the SHA-256 of their bytes.
CREATE TABLE blobs (
    hash          TEXT PRIMARY KEY,
    bytes         BLOB NOT NULL,
    size          INTEGER NOT NULL,
    content_type  TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    uploaded      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
