-- Security audit trail (安全审计, 等保 2.0 GB/T 22239): sign-ins and their failures, lockouts,
-- sign-outs, expired sessions, password and account changes, permission refusals and writes made
-- with the admin token. Kept at least 180 days (网络安全法 第二十一条: ≥ 6 months); the collector
-- deletes older rows once a day. The application only ever inserts; the trigger below refuses an
-- UPDATE from anyone, so an entry cannot be rewritten after the fact.
CREATE TABLE audit_log (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at           timestamptz NOT NULL,
  event        text NOT NULL CHECK (event ~ '^[a-z][a-z-]{1,39}$'),
  -- the account (or the name tried at a failed sign-in), or 'admin-token'
  username     text CHECK (length(username) BETWEEN 1 AND 128),
  display_name text CHECK (length(display_name) <= 100),
  client_ip    text CHECK (length(client_ip) <= 64),
  user_agent   text CHECK (length(user_agent) <= 256),
  -- what the event was about: the user changed, the route written, the school refused
  target       text CHECK (length(target) <= 256),
  outcome      text NOT NULL CHECK (outcome IN ('success', 'failure')),
  detail       jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_username_at ON audit_log (username, at DESC);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: entries are not changed';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
