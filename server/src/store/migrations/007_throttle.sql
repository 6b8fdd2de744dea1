-- Password attempts, counted before a password is checked and shared by every process
-- of the database (a restart does not reset them). `key` is `login:<name>` or
-- `addr:<client address>`; times are Unix seconds.
CREATE TABLE password_attempts (
    key           TEXT PRIMARY KEY,
    window_start  INTEGER NOT NULL,
    attempts      INTEGER NOT NULL,
    not_before    INTEGER
);
CREATE INDEX password_attempts_window ON password_attempts (window_start);
