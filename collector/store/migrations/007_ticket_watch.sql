-- What the ticket watcher (collector/tickets/watcher.ts) knows is failing now, so that a collector
-- restart keeps the fault times tickets are opened with (repair times are measured from them).
-- Written when something starts or stops failing, never per reading; read when the collector starts.
--
--   failing    a device's measurement shows `fault` since `since`; last_seen is its latest failing
--              reading when the row was written (newer ones are not written: a stale row only means
--              the next reading must confirm the fault before a ticket opens)
--   offline    the gateway (device_id '') is offline since `since`
--   recovered  seen working again at `since` after failing; the watcher resolves its ticket with it

CREATE TABLE ticket_watch (
  school_code text NOT NULL,
  agent_id    text NOT NULL,
  device_id   text NOT NULL CHECK (length(device_id) <= 128),
  kind        text NOT NULL CHECK (kind IN ('failing', 'offline', 'recovered')),
  -- the measurement that shows the fault; '' for the other kinds
  measurement text NOT NULL CHECK (length(measurement) <= 128),
  fault       text CHECK (fault ~ '^[a-z][a-z0-9-]{1,31}$'),
  detail      text CHECK (length(detail) <= 2000),
  since       timestamptz NOT NULL,
  last_seen   timestamptz,
  PRIMARY KEY (school_code, agent_id, device_id, kind, measurement),
  FOREIGN KEY (school_code, agent_id) REFERENCES agents (school_code, agent_id) ON DELETE CASCADE,
  CHECK ((kind = 'failing') = (fault IS NOT NULL AND detail IS NOT NULL AND last_seen IS NOT NULL AND measurement <> '')),
  CHECK (kind <> 'offline' OR device_id = '')
);
