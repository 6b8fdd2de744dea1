-- One action's entries about one thing (SQLite's 010).
CREATE INDEX audit_log_action ON audit_log (institution, action, seq);
