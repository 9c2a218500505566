-- Ticket notifications waiting to be sent (collector/notify/outbox.ts): one row per target and
-- ticket change, written when the notifier hands the change to the target, so that what is still
-- waiting when the collector stops or crashes is sent after it starts again.
--
--   target           the target's `name` in the notify file (or the generated `<format>-<n>`):
--                    renaming a target abandons its waiting rows (they are kept, and logged at start)
--   notice           the change as collector/notify/message.ts `TicketNotice` holds it
--   attempts         requests made for it so far
--   next_attempt_at  not before then: now for a new row; while a request or its back-off is under
--                    way, the end of that plus a lease (a collector that crashed mid-send thus gives
--                    the rows up after a while, and collectors sharing a database do not send a row twice)
--   state            queued (waiting or being sent), delivered, failed (given up: the last try failed,
--                    or the answer said retrying cannot help), dropped (the oldest beyond queueSize)
--   done_at          when it stopped being queued; rows done longer than the retention are deleted

CREATE TABLE notify_outbox (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  target          text NOT NULL CHECK (length(target) BETWEEN 1 AND 64),
  notice          jsonb NOT NULL CHECK (jsonb_typeof(notice) = 'object'),
  created_at      timestamptz NOT NULL,
  attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at timestamptz NOT NULL,
  last_error      text CHECK (length(last_error) <= 500),
  state           text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'delivered', 'failed', 'dropped')),
  done_at         timestamptz,
  CHECK ((state = 'queued') = (done_at IS NULL))
);
-- the sender's queries: a target's waiting rows, oldest first
CREATE INDEX notify_outbox_queued ON notify_outbox (target, id) WHERE state = 'queued';
-- the retention sweep
CREATE INDEX notify_outbox_done ON notify_outbox (done_at) WHERE state <> 'queued';
