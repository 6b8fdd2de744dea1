-- Indexes PostgreSQL's schema had and this one lacked (found by the test comparing the two
-- migrated schemas): devices by institution (listing an institution's devices) and
-- dashboard sessions by expiry (removing expired ones).
CREATE INDEX devices_institution ON devices (institution);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
