-- One action's entries about one thing (a hazard page's "phone clock ahead" notes).
CREATE INDEX audit_log_action ON audit_log (institution, action, seq);
