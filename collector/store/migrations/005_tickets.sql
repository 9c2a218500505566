-- Repair tickets (报修工单): opened by the collector when an enrolled device stays failed, or by a
-- person; worked by equipment managers; resolved automatically when the device recovers (a person
-- may close or reopen). Every change is kept with who made it, so repair times can be reported.

CREATE TABLE tickets (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  school_code  text NOT NULL REFERENCES schools (code) ON DELETE CASCADE,
  -- the failed device or gateway; NULL agent for a ticket about the school as a whole
  agent_id     text CHECK (length(agent_id) BETWEEN 1 AND 63),
  device_id    text CHECK (length(device_id) BETWEEN 1 AND 128),
  fault        text NOT NULL CHECK (fault ~ '^[a-z][a-z0-9-]{1,31}$'),
  title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  detail       text CHECK (length(detail) <= 2000),
  state        text NOT NULL CHECK (state IN ('open', 'in-progress', 'resolved', 'closed')),
  source       text NOT NULL CHECK (source IN ('auto', 'manual')),
  assignee     text CHECK (length(assignee) BETWEEN 1 AND 100),
  opened_at    timestamptz NOT NULL,
  -- when the fault began (auto tickets: earlier than opened_at by the grace period)
  fault_since  timestamptz NOT NULL,
  resolved_at  timestamptz,
  closed_at    timestamptz,
  updated_at   timestamptz NOT NULL
);
CREATE INDEX tickets_school_state ON tickets (school_code, state);
-- at most one unfinished automatic ticket per device (or gateway); its fault follows the device's
CREATE UNIQUE INDEX tickets_one_active_auto ON tickets (school_code, coalesce(agent_id, ''), coalesce(device_id, '')) WHERE source = 'auto' AND state IN ('open', 'in-progress');

CREATE TABLE ticket_events (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ticket_id  bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
  action     text NOT NULL CHECK (action IN ('open', 'assign', 'start', 'resolve', 'close', 'reopen', 'comment')),
  from_state text,
  to_state   text NOT NULL,
  actor      text NOT NULL CHECK (length(actor) BETWEEN 1 AND 128),
  note       text CHECK (length(note) <= 1000),
  at         timestamptz NOT NULL
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, at);
