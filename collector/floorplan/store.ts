/**
 * A school's floor-plan image in the inventory (table `floor_plans`, migration 006): at most one per
 * school, replaced whole by an upload (which clears its placement: a new drawing needs placing
 * anew), its affine placement set apart, who did each and when. The checks of the file and of the
 * placement are the caller's (image.ts, georef.ts); the table's constraints are the backstop.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../store/db.ts';
import type { Georef } from './georef.ts';
import type { ImageInfo, ImageType } from './image.ts';

export interface FloorPlanMeta {
  width: number;
  height: number;
  contentType: ImageType;
  bytes: number;
  /** hex SHA-256 of the file: its ETag */
  sha256: string;
  uploadedAt: string;
  uploadedBy: string;
  georef: Georef | null;
  georefAt: string | null;
  georefBy: string | null;
}

export interface FloorPlanImage {
  contentType: ImageType;
  sha256: string;
  uploadedAt: string;
  image: Buffer;
}

interface MetaRow {
  content_type: ImageType;
  width: number;
  height: number;
  bytes: number;
  sha256: string;
  uploaded_by: string;
  uploaded_at: Date;
  tl_lon: number | null;
  tl_lat: number | null;
  tr_lon: number | null;
  tr_lat: number | null;
  bl_lon: number | null;
  bl_lat: number | null;
  georef_by: string | null;
  georef_at: Date | null;
}

const META_COLUMNS = 'content_type, width, height, bytes, sha256, uploaded_by, uploaded_at, tl_lon, tl_lat, tr_lon, tr_lat, bl_lon, bl_lat, georef_by, georef_at';

function metaOf(r: MetaRow): FloorPlanMeta {
  const placed = r.tl_lon != null && r.tl_lat != null && r.tr_lon != null && r.tr_lat != null && r.bl_lon != null && r.bl_lat != null;
  return {
    width: r.width,
    height: r.height,
    contentType: r.content_type,
    bytes: r.bytes,
    sha256: r.sha256,
    uploadedAt: r.uploaded_at.toISOString(),
    uploadedBy: r.uploaded_by,
    georef: placed ? { topLeft: { lon: r.tl_lon!, lat: r.tl_lat! }, topRight: { lon: r.tr_lon!, lat: r.tr_lat! }, bottomLeft: { lon: r.bl_lon!, lat: r.bl_lat! } } : null,
    georefAt: r.georef_at ? r.georef_at.toISOString() : null,
    georefBy: r.georef_by,
  };
}

/** pg gives bytea as a Buffer, PGlite as a Uint8Array: the same bytes either way, without a copy. */
const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

export class FloorPlans {
  constructor(private readonly db: Db) {}

  async meta(schoolCode: string): Promise<FloorPlanMeta | null> {
    const [r] = await this.db.query<MetaRow>(`SELECT ${META_COLUMNS} FROM floor_plans WHERE school_code = $1`, [schoolCode]);
    return r ? metaOf(r) : null;
  }

  async image(schoolCode: string): Promise<FloorPlanImage | null> {
    const [r] = await this.db.query<{ content_type: ImageType; sha256: string; uploaded_at: Date; image: Uint8Array }>(
      'SELECT content_type, sha256, uploaded_at, image FROM floor_plans WHERE school_code = $1',
      [schoolCode],
    );
    return r ? { contentType: r.content_type, sha256: r.sha256, uploadedAt: r.uploaded_at.toISOString(), image: asBuffer(r.image) } : null;
  }

  /** Stores the school's image in place of any earlier one (and its placement). */
  async put(schoolCode: string, file: Buffer, info: ImageInfo, actor: string, at = new Date()): Promise<FloorPlanMeta> {
    const sha256 = createHash('sha256').update(file).digest('hex');
    const [r] = await this.db.query<MetaRow>(
      `INSERT INTO floor_plans (school_code, content_type, width, height, bytes, sha256, image, uploaded_by, uploaded_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (school_code) DO UPDATE SET
         content_type = EXCLUDED.content_type, width = EXCLUDED.width, height = EXCLUDED.height, bytes = EXCLUDED.bytes,
         sha256 = EXCLUDED.sha256, image = EXCLUDED.image, uploaded_by = EXCLUDED.uploaded_by, uploaded_at = EXCLUDED.uploaded_at,
         tl_lon = NULL, tl_lat = NULL, tr_lon = NULL, tr_lat = NULL, bl_lon = NULL, bl_lat = NULL, georef_by = NULL, georef_at = NULL
       RETURNING ${META_COLUMNS}`,
      [schoolCode, info.contentType, info.width, info.height, file.length, sha256, file, actor, at],
    );
    return metaOf(r!);
  }

  /** Sets the placement; null when the school has no image. */
  async setGeoref(schoolCode: string, g: Georef, actor: string, at = new Date()): Promise<FloorPlanMeta | null> {
    const [r] = await this.db.query<MetaRow>(
      `UPDATE floor_plans SET tl_lon = $2, tl_lat = $3, tr_lon = $4, tr_lat = $5, bl_lon = $6, bl_lat = $7, georef_by = $8, georef_at = $9
       WHERE school_code = $1 RETURNING ${META_COLUMNS}`,
      [schoolCode, g.topLeft.lon, g.topLeft.lat, g.topRight.lon, g.topRight.lat, g.bottomLeft.lon, g.bottomLeft.lat, actor, at],
    );
    return r ? metaOf(r) : null;
  }

  /** Whether there was an image to delete. */
  async delete(schoolCode: string): Promise<boolean> {
    const rows = await this.db.query('DELETE FROM floor_plans WHERE school_code = $1 RETURNING school_code', [schoolCode]);
    return rows.length > 0;
  }
}
