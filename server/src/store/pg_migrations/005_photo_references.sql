-- Photos nothing references yet (SQLite's 009).
ALTER TABLE blobs ADD COLUMN uploaded_by TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE blobs ADD COLUMN referenced INTEGER NOT NULL DEFAULT 1;
CREATE INDEX blobs_unreferenced ON blobs (institution, uploaded_by) WHERE referenced = 0;
