-- Sign-in for people (collector/auth): sessions, failed logins for the lockout, and what the user
-- list shows. 等保 2.0 (GB/T 22239) basics: unique accounts, lockout after failed logins, session
-- timeout, actions attributable to a person.

ALTER TABLE users
  ADD COLUMN disabled_at     timestamptz,
  ADD COLUMN last_login_at   timestamptz,
  ADD COLUMN password_set_at timestamptz NOT NULL DEFAULT now();

-- A session is a random token the client holds; only its SHA-256 is stored, so a copy of this table
-- signs nobody in. A session ends when idle too long (last_seen_at, written at most once a minute)
-- or at expires_at (the absolute limit), whichever comes first; logout and a password change or
-- disabling the user delete the rows.
CREATE TABLE user_sessions (
  token_hash   text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at   timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);

-- Failed logins per user name (also names that do not exist, so the answer does not tell them
-- apart); a successful login clears them, rows older than the lockout window are deleted.
CREATE TABLE login_failures (
  id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username text NOT NULL CHECK (length(username) BETWEEN 1 AND 128),
  at       timestamptz NOT NULL
);
CREATE INDEX login_failures_username_at ON login_failures (username, at);
