-- The sync client: where the server is, the device's token (a phone app keeps it in
-- the platform's secret store instead), the server epoch last seen, and the quarantine
-- of changes the server refused: kept, never deleted, shown to the user with the reason.
ALTER TABLE device ADD COLUMN token TEXT;
ALTER TABLE device ADD COLUMN server_epoch TEXT;

CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    code        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    document    BLOB NOT NULL,            -- the whole local document as it was refused
    created_at  TEXT NOT NULL
);
