-- Enrollment: what an administrator decides about a discovered device, where it is, what was
-- planned for the school, and who changed what when.

INSERT INTO device_states (state, description) VALUES
  ('rejected', 'refused by an administrator (not the school''s, or a duplicate)');

-- Placement of an enrolled device: building, room, map position, and for cameras the view
-- parameters the coverage check needs. One JSON document, validated by the application.
ALTER TABLE devices ADD COLUMN placement jsonb CHECK (placement IS NULL OR jsonb_typeof(placement) = 'object');

CREATE TABLE planned_devices (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  school_code    text NOT NULL REFERENCES schools (code) ON DELETE CASCADE,
  name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
  kind           text NOT NULL CHECK (length(kind) BETWEEN 1 AND 32),
  expected_ip    text CHECK (length(expected_ip) <= 64),
  expected_model text CHECK (length(expected_model) <= 128),
  placement      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(placement) = 'object'),
  -- the discovered device it became (merge); NULL while still missing
  device_pk      bigint UNIQUE REFERENCES devices (id) ON DELETE SET NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (school_code, name)
);
CREATE INDEX planned_devices_school ON planned_devices (school_code);

CREATE TABLE device_state_changes (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  device_pk   bigint NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  from_state  text NOT NULL,
  to_state    text NOT NULL,
  actor       text NOT NULL CHECK (length(actor) BETWEEN 1 AND 128),
  note        text CHECK (length(note) <= 1000),
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX device_state_changes_device ON device_state_changes (device_pk, at);
