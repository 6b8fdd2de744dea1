-- Photos nothing references yet. A photo arrives before the record naming it; until a
-- document of its institution references it, it counts against its uploader's and its
-- institution's quota, and after a grace period it is removed. Photos held before this
-- column existed are all kept (referenced = 1).
ALTER TABLE blobs ADD COLUMN uploaded_by TEXT NOT NULL DEFAULT '';
ALTER TABLE blobs ADD COLUMN referenced INTEGER NOT NULL DEFAULT 1;
CREATE INDEX blobs_unreferenced ON blobs (institution, uploaded_by) WHERE referenced = 0;
