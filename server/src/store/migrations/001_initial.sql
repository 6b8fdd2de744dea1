-- Accounts: institutions (or the province), their users and the devices users enrolled.
CREATE TABLE institutions (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE departments (
    id           TEXT PRIMARY KEY,
    institution  TEXT NOT NULL REFERENCES institutions(id),
    name         TEXT NOT NULL
);

CREATE TABLE sites (
    id           TEXT PRIMARY KEY,
    institution  TEXT NOT NULL REFERENCES institutions(id),
    department   TEXT NOT NULL REFERENCES departments(id),
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    building     TEXT NOT NULL DEFAULT '',
    floor_room   TEXT NOT NULL DEFAULT ''
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    institution    TEXT,                        -- NULL for provincial reviewers
    department     TEXT,
    login          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    roles          TEXT NOT NULL,               -- comma-separated role codes
    password_hash  TEXT NOT NULL,               -- argon2id PHC string
    active         INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL
);

-- A device's token is random; only its SHA-256 is kept. Its Automerge actor is bound to
-- it: changes carrying the actor are that device's, hence that user's.
CREATE TABLE devices (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id),
    institution  TEXT NOT NULL,
    actor        BLOB NOT NULL UNIQUE,
    token_hash   BLOB NOT NULL UNIQUE,
    name         TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    revoked_at   TEXT,
    last_sync_at TEXT
);

-- Actors the server itself writes with (directory updates, dashboard actions).
CREATE TABLE server_actors (
    actor       BLOB PRIMARY KEY,
    user_id     TEXT,
    created_at  TEXT NOT NULL
);

-- Documents, keyed by (institution, id): one institution's ids never touch another's.
-- `snapshot` is a compacted save; changes after `snapshot_seq` are in `changes`.
CREATE TABLE documents (
    institution   TEXT NOT NULL,
    id            TEXT NOT NULL,
    kind          TEXT NOT NULL,
    snapshot      BLOB NOT NULL,
    snapshot_seq  INTEGER NOT NULL,
    heads         BLOB NOT NULL,
    bytes         INTEGER NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (institution, id)
) WITHOUT ROWID;

-- The change feed: every change the server holds, in commit order. `seq` is the cursor
-- devices keep. SQLite has one writer, so seq order is commit order (no gaps to skip).
CREATE TABLE changes (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    institution  TEXT NOT NULL,
    doc_id       TEXT NOT NULL,
    hash         BLOB NOT NULL,
    actor        BLOB NOT NULL,
    bytes        BLOB NOT NULL,
    received_at  TEXT NOT NULL,
    UNIQUE (institution, doc_id, hash)
);
CREATE INDEX changes_feed ON changes (institution, seq);
CREATE INDEX changes_doc ON changes (institution, doc_id, seq);

CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
