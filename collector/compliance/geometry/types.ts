/**
 * Coverage geometry model. Everything lives in a local metric plane: metres, x east, y north
 * (a campus plan's own frame, or WGS84 projected around the school with `projection.ts`).
 * Bearings/headings are in degrees, 0 = north (+y), clockwise (90 = east, +x), like a compass.
 */

/** A point in the local plane, metres. Same shape as Clipper2's PointD, so rings pass through unconverted. */
export interface Point {
  x: number;
  y: number;
}

/** A closed ring; the closing point is implicit (first point not repeated). Either orientation accepted. */
export type Ring = Point[];

/** A polygon: one outer ring and zero or more holes (courtyards, excluded rooms). */
export interface Polygon {
  outer: Ring;
  holes: Ring[];
}

/** Pixel-density levels of EN/IEC 62676-4 (2015 names, the ones tenders cite), px per metre. REFERENCE.md. */
export const PPM_LEVELS = {
  monitor: 12.5,
  detect: 25,
  observe: 62.5,
  recognise: 125,
  identify: 250,
  inspect: 1000,
} as const;

export type DensityLevel = keyof typeof PPM_LEVELS;

/** Levels from the least demanding (largest reach) to the most demanding. */
export const DENSITY_LEVELS: readonly DensityLevel[] = ['monitor', 'detect', 'observe', 'recognise', 'identify', 'inspect'];

/** The level used for "seen by any camera at any level": the least demanding one. */
export const ANY_LEVEL: DensityLevel = 'monitor';

/** Optics: a horizontal field of view given directly, or computed from the lens and sensor. */
export type CameraOptics = { hfovDeg: number } | { focalLengthMm: number; sensorWidthMm: number };

export interface CameraBase {
  id: string;
  /** Position in the local plane, metres. */
  x: number;
  y: number;
  /** Optical axis bearing, degrees, 0 = north, clockwise. */
  headingDeg: number;
  /** Horizontal resolution actually streamed (ONVIF, else the profile), pixels. */
  horizontalPixels: number;
  /** Vertical resolution; used only for the vertical field of view (default 16:9). */
  verticalPixels?: number;
  /** Mounting height above the ground, metres. With `tiltDeg` gives the blind zone under the camera. */
  mountHeightM?: number;
  /** Downward tilt of the optical axis below horizontal, degrees (0 = level, 90 = straight down). */
  tiltDeg?: number;
  online: boolean;
  healthy: boolean;
}

export type Camera = CameraBase & CameraOptics;

/** Key-area types of GB/T 29315-2022 (table A.1) and the common local additions. REFERENCE.md. */
export const KEY_AREA_TYPES = {
  'gate-outside': { zh: '学校大门外', video: 'required' },
  'main-entrance': { zh: '主出入口', video: 'required' },
  gatehouse: { zh: '门卫室', video: 'required' },
  'outdoor-gathering': { zh: '室外人员集中活动区域（操场、运动场）', video: 'required' },
  'teaching-corridor': { zh: '教学区域主要通道和出入口', video: 'required' },
  'dormitory-entrance': { zh: '学生宿舍楼主要出入口', video: 'required' },
  'kindergarten-room': { zh: '幼儿园活动室、寝室', video: 'required' },
  kitchen: { zh: '食堂操作间、出入口', video: 'required' },
  'hazardous-lab': { zh: '危险品储存室、实验室', video: 'required' },
  perimeter: { zh: '周界', video: 'recommended' },
  'canteen-rooms': { zh: '备餐间、留样间、库房、就餐区', video: 'recommended' },
  'finance-room': { zh: '财务室', video: 'local' },
  'archive-room': { zh: '档案室', video: 'local' },
  'security-control-room': { zh: '安防监控中心', video: 'local' },
  library: { zh: '图书馆', video: 'local' },
  gymnasium: { zh: '体育馆', video: 'local' },
  other: { zh: '其他', video: 'local' },
} as const satisfies Record<string, { zh: string; video: 'required' | 'recommended' | 'local' }>;

export type KeyAreaType = keyof typeof KEY_AREA_TYPES;

export interface KeyArea {
  id: string;
  name?: string;
  type: KeyAreaType;
  polygon: Polygon;
  requiredLevel: DensityLevel;
}

/**
 * Something cameras cannot see through. A building is a closed outline whose edges block sight
 * (a camera inside it sees the inside up to its walls; one outside does not see in). A wall is a
 * segment; with a thickness it blocks as the rectangle around the segment.
 */
export type Obstacle =
  | { kind: 'building'; id: string; polygon: Polygon }
  | { kind: 'wall'; id: string; a: Point; b: Point; thicknessM?: number };

/** A blocking segment, as the visibility code and the sampler see obstacles. */
export interface Segment {
  a: Point;
  b: Point;
}
