-- Users who must choose a new password before anything else (the administrator's
-- one-time password): cleared when the password is set.
CREATE TABLE password_due (
    user_id  TEXT COLLATE "C" PRIMARY KEY REFERENCES users(id)
);
