/**
 * A school's floor-plan image (总平面图) over HTTP: upload (the raw file as the body, checked by its
 * content), the image itself with an ETag, its metadata, its affine placement (three corners in
 * WGS84) and deletion. Writes need permission 'plan' at the school (or the admin token) and record
 * who made them.
 *
 * A fastify plugin (encapsulated) so that the image content-type parsers, the 20 MB body limit and
 * the "file too large" answer apply to these routes only.
 */
import type { FastifyError, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { Db } from '../store/index.ts';
import { GeorefProblem, validateGeoref, type Georef } from '../floorplan/georef.ts';
import { IMAGE_TYPES, ImageProblem, inspectImage, type ImageType } from '../floorplan/image.ts';
import { FloorPlans, type FloorPlanMeta } from '../floorplan/store.ts';
import type { Access } from './access.ts';
import { ApiError } from './errors.ts';
import * as S from './schemas.ts';

/** Largest file accepted: a scanned A1 drawing as PNG or JPEG fits well under it. */
export const MAX_FLOORPLAN_BYTES = 20 * 1024 * 1024;

export interface FloorPlanRouteDeps {
  db: Db;
  access: Access;
  schoolExists: (code: string) => Promise<void>;
}

const LonLat = Type.Object(
  { lon: Type.Number({ minimum: -180, maximum: 180 }), lat: Type.Number({ minimum: -90, maximum: 90 }) },
  { additionalProperties: false },
);
const GeorefBody = Type.Object(
  {
    topLeft: LonLat,
    topRight: LonLat,
    bottomLeft: LonLat,
  },
  { additionalProperties: false, description: "WGS84 lon/lat of the image's top-left, top-right and bottom-left corners (an affine placement: rotation, scale, skew)" },
);
const Meta = Type.Object({
  width: Type.Integer({ description: 'pixels, from the file' }),
  height: Type.Integer(),
  contentType: Type.String({ description: 'image/png, image/jpeg or image/webp, as the content says' }),
  bytes: Type.Integer(),
  sha256: Type.String({ description: 'hex SHA-256 of the file (the ETag of GET …/floorplan)' }),
  uploadedAt: Type.String({ format: 'date-time' }),
  uploadedBy: Type.String(),
  georef: Type.Union([GeorefBody, Type.Null()], { description: 'null until placed; an upload clears it' }),
  georefAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  georefBy: Type.Union([Type.String(), Type.Null()]),
});
const ImageQuery = Type.Object({ v: Type.Optional(Type.String({ maxLength: 100, description: 'cache key the console adds (the sha256); ignored' })) });
const errors = { 400: { $ref: 'Error#' }, 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' }, 404: { $ref: 'Error#' } };
const path = '/api/v1/schools/:code/floorplan';

/** Whether an If-None-Match header names this entity tag (a list, weak tags and `*` included). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === '*' || tag === etag;
  });
}

export const floorPlanRoutes: FastifyPluginAsync<FloorPlanRouteDeps> = async (app, deps) => {
  const plans = new FloorPlans(deps.db);
  // onRequest, not preHandler: a caller without the right is refused before a 20 MB body is read
  const write = { onRequest: deps.access.guard('plan', (req) => ({ school: (req.params as Static<typeof S.SchoolCodeParams>).code })) };
  const actorOf = deps.access.actorOf.bind(deps.access);
  const school = async (req: FastifyRequest) => {
    const { code } = req.params as Static<typeof S.SchoolCodeParams>;
    await deps.schoolExists(code);
    return code;
  };
  const stored = (meta: FloorPlanMeta | null, code: string): FloorPlanMeta => {
    if (!meta) throw new ApiError('NO_FLOORPLAN', code);
    return meta;
  };

  // The raw file as a Buffer, whatever type it claims: the handler decides with a clear answer
  // rather than fastify's generic 415.
  app.addContentTypeParser([...IMAGE_TYPES], { parseAs: 'buffer', bodyLimit: MAX_FLOORPLAN_BYTES }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_FLOORPLAN_BYTES }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err: FastifyError) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') throw new ApiError('FLOORPLAN_TOO_LARGE', `${MAX_FLOORPLAN_BYTES / 1024 / 1024} MB`);
    throw err; // the API's own handler
  });

  app.put(
    path,
    {
      ...write,
      bodyLimit: MAX_FLOORPLAN_BYTES,
      schema: {
        summary: "Upload the school's floor-plan image (PNG, JPEG or WebP, ≤ 20 MB, each side ≤ 20000 px), replacing any earlier one and its placement",
        description: 'The raw file is the body. The content decides the type (magic bytes) and the pixel size (from the header); a file that is not such an image, is cut short or damaged (for a PNG: pixel data that does not inflate to exactly the scanlines its header calls for), or has an unusable size is refused with the reason.',
        security: [{ bearer: [] }],
        consumes: [...IMAGE_TYPES],
        params: S.SchoolCodeParams,
        response: { 200: Meta, ...errors, 413: { $ref: 'Error#' }, 415: { $ref: 'Error#' } },
      },
    },
    async (req) => {
      const code = await school(req);
      const declared = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (!IMAGE_TYPES.includes(declared as ImageType) || !Buffer.isBuffer(req.body)) {
        throw new ApiError('FLOORPLAN_NOT_IMAGE', `send the image as the body with Content-Type image/png, image/jpeg or image/webp (got ${declared || 'none'})`, { problem: 'content-type' });
      }
      const file = req.body;
      let info;
      try {
        info = await inspectImage(file);
      } catch (err) {
        if (!(err instanceof ImageProblem)) throw err;
        const code = err.problem === 'not-an-image' ? 'FLOORPLAN_NOT_IMAGE' : err.problem === 'dimensions' ? 'FLOORPLAN_BAD_DIMENSIONS' : 'FLOORPLAN_DAMAGED';
        throw new ApiError(code, err.message, { problem: err.problem });
      }
      // the content wins over the header (a JPEG saved as .png arrives as image/png)
      return plans.put(code, file, info, await actorOf(req));
    },
  );

  app.get(
    path,
    {
      schema: {
        summary: "The school's floor-plan image, with its own content type; ETag and If-None-Match (304)",
        params: S.SchoolCodeParams,
        querystring: ImageQuery,
        produces: [...IMAGE_TYPES],
        response: { 200: { type: 'string', format: 'binary', description: 'the image file' }, 304: { type: 'null', description: 'not modified' }, ...errors },
      },
    },
    async (req, reply) => {
      const code = await school(req);
      const img = await plans.image(code);
      if (!img) throw new ApiError('NO_FLOORPLAN', code);
      const etag = `"${img.sha256}"`;
      // no-cache: the URL stays the same when the image is replaced, so caches revalidate (cheap: 304)
      reply.header('etag', etag).header('cache-control', 'private, no-cache').header('last-modified', new Date(img.uploadedAt).toUTCString()).header('x-content-type-options', 'nosniff');
      if (matchesEtag(req.headers['if-none-match'], etag)) return reply.status(304).send();
      return reply.type(img.contentType).send(img.image);
    },
  );

  app.get(
    `${path}/meta`,
    { schema: { summary: "The floor-plan image's size, type, who uploaded it and when, and its placement", params: S.SchoolCodeParams, response: { 200: Meta, ...errors } } },
    async (req) => {
      const code = await school(req);
      return stored(await plans.meta(code), code);
    },
  );

  app.put(
    `${path}/georef`,
    {
      ...write,
      schema: {
        summary: "Place the floor-plan image: WGS84 lon/lat of its top-left, top-right and bottom-left corners",
        description: 'Refused with the reason when a corner is outside China, the corners are in a line or mirror the image, an edge is under 5 m, the image would span over 5 km, or its pixels would be stretched more than 4:1.',
        security: [{ bearer: [] }],
        params: S.SchoolCodeParams,
        body: GeorefBody,
        response: { 200: Meta, ...errors },
      },
    },
    async (req) => {
      const code = await school(req);
      const meta = stored(await plans.meta(code), code);
      const g = req.body as Georef;
      try {
        validateGeoref(g, meta);
      } catch (err) {
        if (err instanceof GeorefProblem) throw new ApiError('INVALID_GEOREF', err.message, { problem: err.problem });
        throw err;
      }
      return stored(await plans.setGeoref(code, g, await actorOf(req)), code);
    },
  );

  app.delete(
    path,
    { ...write, schema: { summary: "Delete the school's floor-plan image and its placement", security: [{ bearer: [] }], params: S.SchoolCodeParams, response: { 204: { type: 'null', description: 'deleted' }, ...errors } } },
    async (req, reply) => {
      const code = await school(req);
      if (!(await plans.delete(code))) throw new ApiError('NO_FLOORPLAN', code);
      return reply.status(204).send();
    },
  );
};
