-- How a message reaches a person: a mobile number (group robots mention people by it)
-- and an e-mail address, each optional, set by the administrator or by the person; and
-- whether the person wants the office's messages by e-mail. Kept on the server only: the
-- directory phones receive does not carry them.
CREATE TABLE user_contacts (
    user_id       TEXT PRIMARY KEY REFERENCES users(id),
    mobile        TEXT,
    email         TEXT,
    email_opt_in  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
