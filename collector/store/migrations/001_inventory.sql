-- Inventory schema, version 1. Plain PostgreSQL: runs unchanged on PostgreSQL 15+ and PGlite.
-- Codes are text with format checks (not integers): leading zeros matter in 学校标识码 and
-- the checks catch a mangled spreadsheet column at the database too.

CREATE TABLE regions (
  code        text PRIMARY KEY CHECK (code ~ '^[0-9]{6}$'),            -- GB/T 2260
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  level       text NOT NULL CHECK (level IN ('city', 'county')),
  parent_code text REFERENCES regions (code),
  centre_lon  double precision CHECK (centre_lon BETWEEN -180 AND 180),
  centre_lat  double precision CHECK (centre_lat BETWEEN -90 AND 90),
  CHECK ((centre_lon IS NULL) = (centre_lat IS NULL)),
  CHECK (parent_code IS NULL OR parent_code <> code)
);
CREATE INDEX regions_parent_idx ON regions (parent_code);

CREATE TABLE schools (
  code                   text PRIMARY KEY CHECK (code ~ '^[0-9]{10}$'),  -- 学校标识码
  name                   text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  county_code            text NOT NULL REFERENCES regions (code),
  type                   text NOT NULL CHECK (type IN ('kindergarten', 'primary', 'junior', 'senior', 'nine-year',
                                                       'twelve-year', 'complete', 'vocational', 'special')),
  ownership              text NOT NULL CHECK (ownership IN ('public', 'private')),
  student_count          integer NOT NULL DEFAULT 0 CHECK (student_count BETWEEN 0 AND 100000),
  staff_count            integer NOT NULL DEFAULT 0 CHECK (staff_count BETWEEN 0 AND 20000),
  contracted_uplink_mbps integer CHECK (contracted_uplink_mbps BETWEEN 0 AND 1000000),
  lon                    double precision CHECK (lon BETWEEN -180 AND 180),
  lat                    double precision CHECK (lat BETWEEN -90 AND 90),
  address                text CHECK (length(address) <= 300),
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  CHECK ((lon IS NULL) = (lat IS NULL))
);
CREATE INDEX schools_county_idx ON schools (county_code);

CREATE TABLE campus_areas (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  school_code    text NOT NULL REFERENCES schools (code) ON DELETE CASCADE,
  name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  kind           text NOT NULL CHECK (kind IN ('building', 'key-area', 'outline', 'wall')),
  key_area_type  text CHECK (length(key_area_type) BETWEEN 1 AND 100),  -- GB/T 29315 wording
  required_level text CHECK (length(required_level) BETWEEN 1 AND 50),
  geometry       jsonb NOT NULL CHECK (jsonb_typeof(geometry) = 'object' AND geometry ? 'type'),
  created_at     timestamptz NOT NULL DEFAULT now(),
  CHECK (kind = 'key-area' OR key_area_type IS NULL)
);
CREATE INDEX campus_areas_school_idx ON campus_areas (school_code);

CREATE TABLE agents (
  school_code   text NOT NULL REFERENCES schools (code) ON DELETE CASCADE,
  agent_id      text NOT NULL CHECK (agent_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  state         text NOT NULL DEFAULT 'never-seen' CHECK (state IN ('never-seen', 'online', 'offline')),
  state_since   timestamptz,
  last_seen     timestamptz,
  -- Highest sequence number applied; -1 = nothing yet (sequence numbers start at 0).
  last_seq      bigint NOT NULL DEFAULT -1 CHECK (last_seq >= -1),
  seq_gaps      bigint NOT NULL DEFAULT 0 CHECK (seq_gaps >= 0),
  duplicates    bigint NOT NULL DEFAULT 0 CHECK (duplicates >= 0),
  agent_version text CHECK (length(agent_version) <= 64),
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (school_code, agent_id)
);

CREATE TABLE mqtt_credentials (
  username        text PRIMARY KEY CHECK (length(username) BETWEEN 1 AND 128),
  kind            text NOT NULL CHECK (kind IN ('agent', 'service')),
  school_code     text,
  agent_id        text,
  password_hash   text NOT NULL CHECK (password_hash LIKE 'scrypt$%'),
  created_at      timestamptz NOT NULL DEFAULT now(),
  password_set_at timestamptz NOT NULL DEFAULT now(),
  revoked_at      timestamptz,
  FOREIGN KEY (school_code, agent_id) REFERENCES agents (school_code, agent_id) ON DELETE CASCADE,
  CHECK ((kind = 'agent') = (school_code IS NOT NULL AND agent_id IS NOT NULL)),
  CHECK (kind <> 'agent' OR username = school_code || '/' || agent_id),
  CHECK (kind <> 'service' OR username ~ '^[a-z][a-z0-9_-]{0,62}$')
);
CREATE UNIQUE INDEX mqtt_credentials_agent_idx ON mqtt_credentials (school_code, agent_id) WHERE kind = 'agent';

-- Device states are rows, not a CHECK list, so a later feature adds one with an INSERT.
CREATE TABLE device_states (
  state       text PRIMARY KEY CHECK (state ~ '^[a-z][a-z-]{0,31}$'),
  description text NOT NULL
);
INSERT INTO device_states (state, description) VALUES
  ('seen', 'reported telemetry, not (yet) in a discovery list'),
  ('discovered', 'found by the agent''s discovery, not enrolled'),
  ('enrolled', 'accepted into the inventory by an administrator'),
  ('retired', 'taken out of service');

CREATE TABLE devices (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  school_code text NOT NULL,
  agent_id    text NOT NULL,
  device_id   text NOT NULL CHECK (device_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'),
  kind        text NOT NULL DEFAULT 'unknown' CHECK (length(kind) BETWEEN 1 AND 32),
  protocol    text CHECK (length(protocol) BETWEEN 1 AND 16),
  address     text CHECK (length(address) <= 256),
  profile     text CHECK (length(profile) <= 128),
  attributes  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
  state       text NOT NULL REFERENCES device_states (state),
  first_seen  timestamptz NOT NULL,
  last_seen   timestamptz NOT NULL,
  gone_at     timestamptz,
  FOREIGN KEY (school_code, agent_id) REFERENCES agents (school_code, agent_id) ON DELETE CASCADE,
  UNIQUE (school_code, agent_id, device_id)
);
CREATE INDEX devices_school_state_idx ON devices (school_code, state);

CREATE TABLE users (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username      text NOT NULL CHECK (username ~ '^[a-z][a-z0-9_.-]{1,63}$'),
  display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
  role          text NOT NULL CHECK (role IN ('admin', 'school-admin', 'security', 'equipment')),
  school_code   text REFERENCES schools (code),
  county_code   text REFERENCES regions (code),
  password_hash text NOT NULL CHECK (password_hash LIKE 'scrypt$%'),
  created_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (role <> 'school-admin' OR school_code IS NOT NULL),
  CHECK (school_code IS NULL OR county_code IS NULL)
);
CREATE UNIQUE INDEX users_username_idx ON users (username);
