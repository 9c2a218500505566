/**
 * Compliance over HTTP: a school's campus plan (GeoJSON in and out) and settings, its key-area
 * coverage with blind spots (and what-if coverage with cameras moved, which stores nothing), every
 * rule judged with its source, county and city roll-ups, the monthly Excel report, and the live
 * event stream. Writes need permission 'plan' at the school (a policy pack: 'agents'), or the admin
 * token.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { GeometryError } from '../compliance/geometry/index.ts';
import { parseCampus, type CampusFeatureCollection } from '../compliance/campus.ts';
import { ComplianceService, type SchoolCompliance } from '../compliance/service.ts';
import { cityRollup, countyRollup } from '../compliance/rollup.ts';
import { complianceWorkbook, historyNotes } from '../compliance/report.ts';
import { MonthError, monthPeriod, type MonthPeriod } from '../compliance/history.ts';
import { Placement, type Inventory, type Region } from '../store/index.ts';
import { MAX_PREVIEW_CAMERAS } from '../compliance/preview.ts';
import { Tickets } from '../tickets/store.ts';
import { AGENT_ID_PATTERN } from '../../protocol/index.ts';
import type { ApiDeps } from './app.ts';
import type { Access } from './access.ts';
import { ApiError } from './errors.ts';
import { mapLimit } from './limit.ts';
import { EventBus, registerEventRoutes } from './events.ts';
import * as S from './schemas.ts';

const MONTH_DOC = 'YYYY-MM (China time); default the current month, whose figures are the state now; an earlier month gives that month from history (coverage, uplink utilisation, cameras online); a future month is refused';
const CountyParams = Type.Object({ code: Type.String({ pattern: '^[0-9]{6}$', description: 'GB/T 2260 county code' }) });
const Any = (description: string) => Type.Unknown({ description });

const Frame = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('wgs84'),
      anchor: Type.Optional(Type.Object({ lon: Type.Number({ minimum: -180, maximum: 180 }), lat: Type.Number({ minimum: -85, maximum: 85 }) }, { additionalProperties: false })),
      rotationDeg: Type.Optional(Type.Number({ exclusiveMinimum: -360, exclusiveMaximum: 360, description: "bearing of the plan's +y axis, clockwise from north" })),
    },
    { additionalProperties: false, description: 'georeferenced: coordinates are WGS84 lon/lat; the anchor (default: the school position) is the plan origin' },
  ),
  Type.Object({ kind: Type.Literal('plan') }, { additionalProperties: false, description: "a floor-plan image's own metric frame: coordinates are metres" }),
]);
const Feature = Type.Object(
  {
    type: Type.Literal('Feature'),
    id: Type.Optional(Type.Union([Type.String(), Type.Number()])),
    properties: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], {
      description: 'kind: key-area | building | wall | outline; name; key areas: keyAreaType (GB/T 29315), requiredLevel (optional, else the policy pack); walls: thicknessM',
    }),
    geometry: Type.Union([Type.Object({ type: Type.String(), coordinates: Type.Unknown() }, { additionalProperties: true }), Type.Null()]),
  },
  { additionalProperties: true },
);
const CampusBody = Type.Object(
  { type: Type.Literal('FeatureCollection'), frame: Type.Optional(Frame), features: Type.Array(Feature, { maxItems: 5000 }) },
  { additionalProperties: true, description: 'GeoJSON FeatureCollection (RFC 7946) with the foreign member `frame`' },
);

const SettingsBody = Type.Object(
  {
    classrooms: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 10000 }), Type.Null()])),
    uplink: Type.Optional(
      Type.Union([
        Type.Object(
          { device: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$' }), ifName: Type.String({ minLength: 1, maxLength: 128 }) },
          { additionalProperties: false, description: 'the device id and SNMP ifName of the school uplink' },
        ),
        Type.Null(),
      ]),
    ),
    policyPack: Type.Optional(Type.Union([Type.String({ pattern: '^[a-z][a-z0-9-]{1,63}$' }), Type.Null()])),
  },
  { additionalProperties: false },
);
const Settings = Type.Object({
  classrooms: Type.Union([Type.Integer(), Type.Null()]),
  uplink: Type.Union([Type.Object({ device: Type.String(), ifName: Type.String() }), Type.Null()]),
  policyPack: Type.Union([Type.String(), Type.Null()]),
  effectivePolicy: Type.String(),
});
const CountySettingsBody = Type.Object({ policyPack: Type.Union([Type.String({ pattern: '^[a-z][a-z0-9-]{1,63}$' }), Type.Null()]) }, { additionalProperties: false });
const ReportQuery = Type.Object({
  county: Type.Optional(Type.String({ pattern: '^[0-9]{6}$' })),
  month: Type.Optional(Type.String({ maxLength: 32, description: MONTH_DOC })),
  city: Type.Optional(Type.String({ pattern: '^[0-9]{6}$' })),
});
const PreviewBody = Type.Object(
  {
    cameras: Type.Array(
      Type.Object(
        {
          agentId: Type.String({ pattern: AGENT_ID_PATTERN }),
          deviceId: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$' }),
          placement: Placement,
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_PREVIEW_CAMERAS, description: 'cameras (enrolled, or still in the inbox) at the placements to try' },
    ),
  },
  { additionalProperties: false },
);
const CityQuery = Type.Object({ code: Type.Optional(Type.String({ pattern: '^[0-9]{6}$' })), month: Type.Optional(Type.String({ maxLength: 32, description: MONTH_DOC })) });
const MonthQuery = Type.Object({ month: Type.Optional(Type.String({ maxLength: 32, description: MONTH_DOC })) });

/** Checked in the handler (not by a schema pattern) so that a bad month gets its own error code. */
export function periodOf(month: string | undefined): MonthPeriod {
  try {
    return monthPeriod(month);
  } catch (err) {
    if (err instanceof MonthError) throw new ApiError(err.problem === 'future' ? 'MONTH_IN_FUTURE' : 'INVALID_MONTH', err.message);
    throw err;
  }
}

export interface ComplianceRouteDeps extends ApiDeps {
  access: Access;
}


async function cityOf(inv: Inventory, code?: string): Promise<{ city: Region; counties: Region[] }> {
  const cities = await inv.listRegions({ level: 'city' });
  const city = code ? cities.find((c) => c.code === code) : cities[0];
  if (!city) throw new ApiError('NOT_FOUND', code ? `city ${code}` : 'a city region');
  return { city, counties: await inv.listRegions({ level: 'county', parentCode: city.code }) };
}

export function registerComplianceRoutes(app: FastifyInstance, deps: ComplianceRouteDeps): void {
  const events = deps.events ?? new EventBus();
  const svc = deps.compliance ?? new ComplianceService({ db: deps.db, inventory: deps.inventory, sink: deps.sink, events, refreshIntervalMs: 0 });
  registerEventRoutes(app, events);
  const errors = { 400: { $ref: 'Error#' }, 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' }, 404: { $ref: 'Error#' } };
  const { access } = deps;
  const schoolOf = (req: { params: unknown }) => ({ school: (req.params as Static<typeof S.SchoolCodeParams>).code });
  const write = { preHandler: access.guard('plan', schoolOf) };

  const school = async (code: string) => {
    const s = await deps.inventory.getSchool(code);
    if (!s) throw new ApiError('NOT_FOUND', `school ${code}`);
    return s;
  };
  const schoolsCompliance = async (countyCode: string, period?: MonthPeriod): Promise<SchoolCompliance[]> => {
    const schools = await deps.inventory.listSchools({ countyCode });
    return (await mapLimit(schools, 4, (s) => svc.compliance(s.code, period))).filter((x): x is SchoolCompliance => x !== null);
  };
  const city = async (code?: string, period?: MonthPeriod) => {
    const { city: c, counties } = await cityOf(deps.inventory, code);
    const per = [];
    for (const k of counties) per.push({ code: k.code, name: k.name, schools: await schoolsCompliance(k.code, period) });
    return cityRollup(c.code, c.name, per);
  };
  /** The roll-up's period: absent for the current month (the state now). */
  const periodField = (p: MonthPeriod) => (p.current ? {} : { period: { month: p.month, from: p.from.toISOString(), to: p.to.toISOString(), historical: true } });

  app.get(
    '/api/v1/schools/:code/campus',
    { schema: { summary: 'Campus plan as GeoJSON (WGS84 when georeferenced, else plan metres)', params: S.SchoolCodeParams, response: { 200: Any('GeoJSON FeatureCollection with `frame`'), ...errors } } },
    async (req) => {
      const { code } = req.params as Static<typeof S.SchoolCodeParams>;
      await school(code);
      const fc = await svc.campusGeoJson(code);
      if (!fc) throw new ApiError('NO_CAMPUS_PLAN', code);
      return fc;
    },
  );

  app.put(
    '/api/v1/schools/:code/campus',
    {
      ...write,
      bodyLimit: 10 * 1024 * 1024,
      schema: { summary: 'Replace the campus plan: key areas, buildings, walls, outline and frame (validated: degenerate or self-intersecting polygons are refused)', security: [{ bearer: [] }], params: S.SchoolCodeParams, body: CampusBody, response: { 200: Any('the stored plan, as GET returns it'), ...errors } },
    },
    async (req) => {
      const { code } = req.params as Static<typeof S.SchoolCodeParams>;
      const s = await school(code);
      let plan;
      try {
        plan = parseCampus(code, req.body as CampusFeatureCollection, s);
      } catch (err) {
        if (err instanceof GeometryError) throw new ApiError('INVALID_GEOMETRY', err.message, { subject: err.subject, problem: err.problem });
        if (err instanceof RangeError) throw new ApiError('INVALID_GEOMETRY', err.message);
        throw err;
      }
      await svc.campus.putPlan(plan);
      await svc.refreshSchool(code);
      return svc.campusGeoJson(code);
    },
  );

  const settingsOut = async (code: string) => {
    const s = await svc.campus.getSettings(code);
    return { ...s, effectivePolicy: (await svc.policyFor((await school(code))!, s)).id };
  };

  app.get('/api/v1/schools/:code/settings', { schema: { summary: 'Compliance settings: classrooms, uplink interface, policy pack', params: S.SchoolCodeParams, response: { 200: Settings, ...errors } } }, async (req) => {
    const { code } = req.params as Static<typeof S.SchoolCodeParams>;
    await school(code);
    return settingsOut(code);
  });

  app.put(
    '/api/v1/schools/:code/settings',
    { ...write, schema: { summary: 'Set classrooms, the uplink interface {device, ifName}, the policy pack (absent = unchanged, null = cleared)', security: [{ bearer: [] }], params: S.SchoolCodeParams, body: SettingsBody, response: { 200: Settings, ...errors } } },
    async (req) => {
      const { code } = req.params as Static<typeof S.SchoolCodeParams>;
      await school(code);
      const body = req.body as Static<typeof SettingsBody>;
      // which standard a school is judged by is the bureau's choice, not the school's
      if (body.policyPack !== undefined) await access.require(req, 'agents', schoolOf(req));
      if (body.policyPack && !svc.packs.has(body.policyPack)) throw new ApiError('UNKNOWN_POLICY_PACK', body.policyPack);
      await svc.campus.putSettings(code, body);
      await svc.refreshSchool(code);
      return settingsOut(code);
    },
  );

  app.put(
    '/api/v1/counties/:code/settings',
    { preHandler: access.guard('agents', (req) => ({ county: (req.params as Static<typeof CountyParams>).code })), schema: { summary: "A county's policy pack (null = the bureau default); permission 'agents'", security: [{ bearer: [] }], params: CountyParams, body: CountySettingsBody, response: { 200: CountySettingsBody, ...errors } } },
    async (req) => {
      const { code } = req.params as Static<typeof CountyParams>;
      const r = await deps.inventory.getRegion(code);
      if (!r || r.level !== 'county') throw new ApiError('NOT_FOUND', `county ${code}`);
      const { policyPack } = req.body as Static<typeof CountySettingsBody>;
      if (policyPack && !svc.packs.has(policyPack)) throw new ApiError('UNKNOWN_POLICY_PACK', policyPack);
      await svc.campus.setCountyPolicy(code, policyPack);
      return { policyPack };
    },
  );

  app.get(
    '/api/v1/schools/:code/coverage',
    { schema: { summary: 'Key-area coverage: per area the required level, covered shares (healthy cameras, any camera, if all were healthy) and blind spots as GeoJSON', params: S.SchoolCodeParams, response: { 200: Any('CoverageReport'), ...errors } } },
    async (req) => {
      const { code } = req.params as Static<typeof S.SchoolCodeParams>;
      await school(code);
      const r = await svc.coverage(code);
      if (!r) throw new ApiError('NO_CAMPUS_PLAN', code);
      return r;
    },
  );

  app.post(
    '/api/v1/schools/:code/coverage/preview',
    {
      // stores nothing, so no token (like GET coverage); a small body: a few placements
      bodyLimit: 64 * 1024,
      schema: {
        summary:
          'What-if key-area coverage with cameras at other placements (a camera in the inbox counts as enrolled): the coverage report, the stored figures to compare (`current`), the figures if the previewed cameras were healthy, and each previewed camera’s view at every required level. Nothing is stored or published',
        params: S.SchoolCodeParams,
        body: PreviewBody,
        response: { 200: Any('CoveragePreview: CoverageReport + preview, current, ifPreviewedHealthy, previewed'), ...errors, 409: { $ref: 'Error#' } },
      },
    },
    async (req) => {
      const { code } = req.params as Static<typeof S.SchoolCodeParams>;
      await school(code);
      const r = await svc.preview(code, (req.body as Static<typeof PreviewBody>).cameras);
      if (!r) throw new ApiError('NO_CAMPUS_PLAN', code);
      return r;
    },
  );

  app.get(
    '/api/v1/schools/:code/compliance',
    { schema: { summary: 'Every rule of the school’s policy: verdict, measured value, threshold, unit, source', params: S.SchoolCodeParams, response: { 200: Any('SchoolCompliance'), ...errors } } },
    async (req) => {
      const { code } = req.params as Static<typeof S.SchoolCodeParams>;
      await school(code);
      return svc.compliance(code);
    },
  );

  app.get(
    '/api/v1/counties/:code/compliance',
    { schema: { summary: 'County roll-up: share of schools passing each rule, key-area coverage, school ranking (now, or for a past `month`)', params: CountyParams, querystring: MonthQuery, response: { 200: Any('CountyRollup'), ...errors } } },
    async (req) => {
      const { code } = req.params as Static<typeof CountyParams>;
      const period = periodOf((req.query as Static<typeof MonthQuery>).month);
      const r = await deps.inventory.getRegion(code);
      if (!r || r.level !== 'county') throw new ApiError('NOT_FOUND', `county ${code}`);
      return { ...countyRollup(r.code, r.name, await schoolsCompliance(code, period)), ...periodField(period) };
    },
  );

  app.get(
    '/api/v1/city/compliance',
    { schema: { summary: 'City roll-up: per county and in total, with the county ranking (now, or for a past `month`)', querystring: CityQuery, response: { 200: Any('CityRollup'), ...errors } } },
    async (req) => {
      const q = req.query as Static<typeof CityQuery>;
      const period = periodOf(q.month);
      return { ...(await city(q.code, period)), ...periodField(period) };
    },
  );

  app.get(
    '/api/v1/reports/compliance.xlsx',
    { schema: { summary: 'Monthly compliance report (Excel): one row per county, 合计 at the bottom (seed 002 附件3 layout); a past month from history, with note rows saying which figures are the state now; a second sheet with repair tickets per county (opened, resolved, open, median and mean repair hours)', querystring: ReportQuery, produces: ['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'], response: { ...errors } } },
    async (req, reply) => {
      const q = req.query as Static<typeof ReportQuery>;
      const period = periodOf(q.month); // China time
      const month = period.month;
      const rollup = await city(q.city, period);
      if (q.county && !rollup.counties.some((c) => c.code === q.county)) throw new ApiError('NOT_FOUND', `county ${q.county} of ${rollup.name}`);
      const repairs = await new Tickets(deps.db).repairStats(rollup.code, period.from, period.to);
      const buf = await complianceWorkbook(rollup, { month, countyCode: q.county, repairs, ...(period.current ? {} : { notes: historyNotes(month, new Date()) }) });
      const file = `compliance-${q.county ?? rollup.code}-${month}.xlsx`;
      return reply
        .header('content-type', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
        .header('content-disposition', `attachment; filename="${file}"`)
        .send(buf);
    },
  );
}
