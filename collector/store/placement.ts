/**
 * Where an enrolled device is, and for a camera how it looks: what the coverage check needs.
 * Validated here, once, for the API and the planned-devices CSV alike.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

const LonLat = Type.Object(
  { lon: Type.Number({ minimum: 73, maximum: 136 }), lat: Type.Number({ minimum: 3, maximum: 54 }) },
  { additionalProperties: false, description: 'WGS84 degrees (China)' },
);
const PlanXY = Type.Object(
  { x: Type.Number({ minimum: -10_000, maximum: 10_000 }), y: Type.Number({ minimum: -10_000, maximum: 10_000 }) },
  { additionalProperties: false, description: "metres in the campus plan's own frame" },
);

export const CameraPlacement = Type.Object(
  {
    headingDeg: Type.Number({ minimum: 0, exclusiveMaximum: 360, description: 'direction of view, 0 = north, clockwise' }),
    hfovDeg: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 360, description: 'horizontal field of view' })),
    focalLengthMm: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 2000 })),
    sensorWidthMm: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100 })),
    mountHeightM: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
    tiltDeg: Type.Optional(Type.Number({ minimum: -90, maximum: 90, description: 'below the horizon is positive' })),
    ptzPreset: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'PTZ cameras: the home/preset position placed' })),
  },
  { additionalProperties: false },
);

export const Placement = Type.Object(
  {
    building: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    room: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    position: Type.Optional(Type.Union([LonLat, PlanXY])),
    camera: Type.Optional(CameraPlacement),
  },
  { additionalProperties: false },
);
export type Placement = Static<typeof Placement>;

const check = TypeCompiler.Compile(Placement);

/** Problems with a placement for a device of `kind`, as readable sentences; empty when fine. */
export function placementProblems(p: unknown, kind: string): string[] {
  if (!check.Check(p)) return [...check.Errors(p)].slice(0, 5).map((e) => `placement${e.path} ${e.message}`);
  const out: string[] = [];
  if (!p.position) out.push('placement.position is required (lon/lat, or x/y on the campus plan)');
  if (kind === 'camera') {
    if (!p.camera) out.push('a camera needs placement.camera (heading and field of view or lens)');
    else if (p.camera.hfovDeg === undefined && (p.camera.focalLengthMm === undefined || p.camera.sensorWidthMm === undefined)) {
      out.push('placement.camera needs hfovDeg, or focalLengthMm and sensorWidthMm');
    }
  } else if (p.camera) out.push(`placement.camera is only for cameras, not ${kind}`);
  return out;
}
