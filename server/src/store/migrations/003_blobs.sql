-- Photos: the bytes live in files under the blobs directory, named by their SHA-256;
-- this table says which institution holds which (verified, complete) blob.
CREATE TABLE blobs (
    institution   TEXT NOT NULL,
    hash          TEXT NOT NULL,
    size          INTEGER NOT NULL,
    content_type  TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    PRIMARY KEY (institution, hash)
) WITHOUT ROWID;
