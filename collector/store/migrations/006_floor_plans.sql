-- A school's floor-plan image (总平面图, a scan or an export): at most one per school, replaced on
-- upload, kept with the inventory (bytea: the same on PostgreSQL and PGlite) so that a console with
-- no map tiles still has it as a backdrop. The application checks the file by its content (magic
-- bytes, pixel size from the header, structure) before it gets here.
--
-- Its placement is affine: the WGS84 lon/lat of the image's top-left, top-right and bottom-left
-- corners (rotation, scale and skew; the bottom-right corner follows). NULL until someone places it.

CREATE TABLE floor_plans (
  school_code   text PRIMARY KEY REFERENCES schools (code) ON DELETE CASCADE,
  content_type  text NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/webp')),
  width         integer NOT NULL CHECK (width BETWEEN 1 AND 20000),
  height        integer NOT NULL CHECK (height BETWEEN 1 AND 20000),
  bytes         integer NOT NULL CHECK (bytes BETWEEN 1 AND 20971520),
  sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  image         bytea NOT NULL CHECK (octet_length(image) = bytes),
  uploaded_by   text NOT NULL CHECK (length(uploaded_by) BETWEEN 1 AND 128),
  uploaded_at   timestamptz NOT NULL,
  tl_lon        double precision CHECK (tl_lon BETWEEN -180 AND 180),
  tl_lat        double precision CHECK (tl_lat BETWEEN -85 AND 85),
  tr_lon        double precision CHECK (tr_lon BETWEEN -180 AND 180),
  tr_lat        double precision CHECK (tr_lat BETWEEN -85 AND 85),
  bl_lon        double precision CHECK (bl_lon BETWEEN -180 AND 180),
  bl_lat        double precision CHECK (bl_lat BETWEEN -85 AND 85),
  georef_by     text CHECK (length(georef_by) BETWEEN 1 AND 128),
  georef_at     timestamptz,
  -- placed entirely or not at all
  CHECK (num_nulls(tl_lon, tl_lat, tr_lon, tr_lat, bl_lon, bl_lat, georef_by, georef_at) IN (0, 8))
);
