-- Password attempts, counted before a password is checked and shared by every replica
-- (a restart does not reset them). `key` is `login:<name>` or `addr:<client address>`;
-- times are Unix seconds.
CREATE TABLE password_attempts (
    key           TEXT COLLATE "C" PRIMARY KEY,
    window_start  BIGINT NOT NULL,
    attempts      BIGINT NOT NULL,
    not_before    BIGINT
);
CREATE INDEX password_attempts_window ON password_attempts (window_start);
