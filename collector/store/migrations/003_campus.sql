-- Campus model for the compliance engine: per school the plan's frame (georeferenced by a WGS84
-- anchor and rotation, or a floor-plan image's own metric frame), the facts the rules need that
-- no device reports (classrooms), which interface is the uplink, and which policy pack applies.
-- Geometry stays in campus_areas, always in plan metres (x east, y north of the plan).

CREATE TABLE campus_plans (
  school_code  text PRIMARY KEY REFERENCES schools (code) ON DELETE CASCADE,
  frame        text NOT NULL CHECK (frame IN ('wgs84', 'plan')),
  anchor_lon   double precision CHECK (anchor_lon BETWEEN -180 AND 180),
  anchor_lat   double precision CHECK (anchor_lat BETWEEN -85 AND 85),
  -- bearing of the plan's +y axis, degrees clockwise from true north
  rotation_deg double precision NOT NULL DEFAULT 0 CHECK (rotation_deg > -360 AND rotation_deg < 360),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CHECK ((frame = 'wgs84') = (anchor_lon IS NOT NULL AND anchor_lat IS NOT NULL))
);

CREATE TABLE school_settings (
  school_code    text PRIMARY KEY REFERENCES schools (code) ON DELETE CASCADE,
  classrooms     integer CHECK (classrooms BETWEEN 0 AND 10000),
  -- the school's internet uplink: this device's interface (ifName as SNMP reports it)
  uplink_device  text CHECK (uplink_device ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'),
  uplink_if_name text CHECK (length(uplink_if_name) BETWEEN 1 AND 128),
  -- policy pack for this school; NULL = the county's, else the bureau default (collector config)
  policy_pack    text CHECK (policy_pack ~ '^[a-z][a-z0-9-]{1,63}$'),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CHECK ((uplink_device IS NULL) = (uplink_if_name IS NULL))
);

CREATE TABLE county_settings (
  county_code text PRIMARY KEY REFERENCES regions (code) ON DELETE CASCADE,
  policy_pack text NOT NULL CHECK (policy_pack ~ '^[a-z][a-z0-9-]{1,63}$'),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The GeoJSON Feature id (stable key-area ids across re-imports) and the feature's other
-- properties (wall thickness, notes).
ALTER TABLE campus_areas ADD COLUMN feature_id text CHECK (feature_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$');
ALTER TABLE campus_areas ADD COLUMN properties jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(properties) = 'object');
CREATE UNIQUE INDEX campus_areas_feature_idx ON campus_areas (school_code, feature_id);
