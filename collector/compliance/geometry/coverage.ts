/**
 * Coverage of key areas by cameras, per school, in the school's metric frame.
 *
 * For each key area, with views unioned before measuring (overlapping cameras never count twice):
 * - coveredShare: seen at its required level by cameras that are online AND healthy;
 * - anyShare: seen by any online camera at any level (the least demanding level, `ANY_LEVEL`);
 * - ifAllHealthyShare: seen at the required level if every enrolled camera were online and healthy
 *   (so "a camera is broken" and "no camera was ever placed there" are told apart);
 * - blindSpots: the area not covered at its required level (监管死角), as polygons in the same frame.
 *
 * `SchoolCoverage` caches each camera's views and, on `updateCamera`, recomputes only the key areas
 * that the camera's old or new views touch.
 */
import { ClipType, FillRule, PolyTreeD, booleanOpDWithPolyTree, intersectD } from 'clipper2-ts';
import type { PathD, PolyPathD } from 'clipper2-ts';
import type { BBox } from './util.ts';
import type { Camera, DensityLevel, KeyArea, Obstacle, Polygon, Ring, Segment } from './types.ts';
import { ANY_LEVEL } from './types.ts';
import { CLIP_PRECISION, cameraView, obstacleSegments, viewBBox } from './camera-view.ts';
import { validateCamera, validateKeyArea, validateObstacle } from './validate.ts';
import { bboxOverlap, polygonArea, ringBBox, signedArea } from './util.ts';

/** A key area counts as fully covered from this share on (a parameter: policy packs may change it). */
export const DEFAULT_FULL_THRESHOLD = 0.999;

export interface AreaCoverage {
  areaId: string;
  type: KeyArea['type'];
  requiredLevel: DensityLevel;
  areaM2: number;
  coveredShare: number;
  anyShare: number;
  ifAllHealthyShare: number;
  fullyCovered: boolean;
  blindSpots: Polygon[];
  blindSpotM2: number;
  /** Cameras counted for coveredShare whose view at the required level reaches the area's box. */
  cameraIds: string[];
}

export interface SchoolCoverageResult {
  areas: AreaCoverage[];
  /** Share of key areas with coveredShare ≥ threshold (1 when the school has no key areas). */
  fullyCoveredShare: number;
  /** Covered area / total key-area area, required levels, online+healthy cameras. */
  weightedCoverage: number;
  weightedAnyCoverage: number;
  weightedIfAllHealthy: number;
  threshold: number;
}

export interface SchoolCoverageInput {
  areas: readonly KeyArea[];
  obstacles?: readonly Obstacle[];
  cameras?: readonly Camera[];
}

export interface SchoolCoverageOptions {
  /** Share from which a key area is "fully covered"; default 0.999. */
  fullThreshold?: number;
}

interface CameraEntry {
  camera: Camera;
  geometryKey: string;
  views: Map<DensityLevel, Ring[]>;
  bbox: BBox | null;
}

interface AreaEntry {
  area: KeyArea;
  paths: PathD[];
  bbox: BBox;
  areaM2: number;
}

const ccw = (r: Ring): Ring => (signedArea(r) < 0 ? [...r].reverse() : r);
const cw = (r: Ring): Ring => (signedArea(r) > 0 ? [...r].reverse() : r);

function pathsArea(paths: readonly PathD[]): number {
  let s = 0;
  for (const p of paths) s += signedArea(p);
  return s;
}

/** Everything that decides a camera's views (not its status). */
function geometryKey(c: Camera): string {
  const { online: _o, healthy: _h, ...geom } = c;
  return JSON.stringify(geom, Object.keys(geom).sort());
}

function treeToPolygons(tree: PolyPathD, out: Polygon[]): void {
  for (let i = 0; i < tree.count; i++) {
    const outer = tree.child(i);
    const holes: Ring[] = [];
    for (let j = 0; j < outer.count; j++) {
      const hole = outer.child(j);
      if (hole.poly) holes.push(cw(hole.poly));
      treeToPolygons(hole, out); // islands inside holes
    }
    if (outer.poly) out.push({ outer: ccw(outer.poly), holes });
  }
}

export class SchoolCoverage {
  readonly threshold: number;
  private readonly segments: Segment[];
  private readonly levels: DensityLevel[];
  private readonly areaEntries: AreaEntry[];
  private readonly cameras = new Map<string, CameraEntry>();
  private readonly results = new Map<string, AreaCoverage>();
  /** Key-area recomputations done since construction (for tests and the bench). */
  recomputations = 0;

  constructor(input: SchoolCoverageInput, options: SchoolCoverageOptions = {}) {
    this.threshold = options.fullThreshold ?? DEFAULT_FULL_THRESHOLD;
    this.segments = obstacleSegments((input.obstacles ?? []).map(validateObstacle));
    const seen = new Set<string>();
    this.areaEntries = input.areas.map((raw) => {
      const area = validateKeyArea(raw);
      if (seen.has(area.id)) throw new Error(`key area "${area.id}" appears twice`);
      seen.add(area.id);
      return {
        area,
        paths: [ccw(area.polygon.outer), ...area.polygon.holes.map(cw)],
        bbox: ringBBox(area.polygon.outer),
        areaM2: polygonArea(area.polygon),
      };
    });
    this.levels = [...new Set<DensityLevel>([ANY_LEVEL, ...this.areaEntries.map((a) => a.area.requiredLevel)])];
    for (const c of input.cameras ?? []) this.putCamera(c);
    for (const a of this.areaEntries) this.recompute(a);
  }

  /** Adds or replaces a camera (status or placement change); returns the ids of the key areas recomputed. */
  updateCamera(camera: Camera): string[] {
    const old = this.cameras.get(camera.id);
    const entry = this.putCamera(camera, old);
    return this.recomputeTouched([old?.bbox ?? null, entry.bbox]);
  }

  removeCamera(id: string): string[] {
    const old = this.cameras.get(id);
    if (!old) return [];
    this.cameras.delete(id);
    return this.recomputeTouched([old.bbox]);
  }

  /**
   * A copy for what-if changes (a preview while a camera is being placed): it shares the plan's
   * geometry and every camera's cached views, which are never mutated, but has its own camera set
   * and results, so `updateCamera` on the copy recomputes only the touched key areas and leaves
   * this one as it was. O(cameras + areas).
   */
  fork(): SchoolCoverage {
    const copy = Object.create(SchoolCoverage.prototype) as SchoolCoverage;
    return Object.assign(copy, this, { cameras: new Map(this.cameras), results: new Map(this.results), recomputations: 0 });
  }

  /** The camera's cached view at a level (Clipper rings), for drawing. */
  view(cameraId: string, level: DensityLevel): Ring[] | undefined {
    return this.cameras.get(cameraId)?.views.get(level);
  }

  areaResult(areaId: string): AreaCoverage | undefined {
    return this.results.get(areaId);
  }

  result(): SchoolCoverageResult {
    const areas = this.areaEntries.map((a) => this.results.get(a.area.id) as AreaCoverage);
    const total = areas.reduce((s, a) => s + a.areaM2, 0);
    const weighted = (k: 'coveredShare' | 'anyShare' | 'ifAllHealthyShare'): number =>
      total > 0 ? areas.reduce((s, a) => s + a[k] * a.areaM2, 0) / total : 1;
    return {
      areas,
      fullyCoveredShare: areas.length ? areas.filter((a) => a.fullyCovered).length / areas.length : 1,
      weightedCoverage: weighted('coveredShare'),
      weightedAnyCoverage: weighted('anyShare'),
      weightedIfAllHealthy: weighted('ifAllHealthyShare'),
      threshold: this.threshold,
    };
  }

  private putCamera(raw: Camera, old?: CameraEntry): CameraEntry {
    const camera = validateCamera(raw);
    const key = geometryKey(camera);
    let views: Map<DensityLevel, Ring[]>;
    if (old && old.geometryKey === key) views = old.views;
    else {
      views = new Map();
      for (const l of this.levels) views.set(l, cameraView(camera, l, this.segments).map(ccw));
    }
    // Every level's view lies inside the least demanding level's view.
    const entry: CameraEntry = { camera, geometryKey: key, views, bbox: viewBBox(views.get(ANY_LEVEL) ?? []) };
    this.cameras.set(camera.id, entry);
    return entry;
  }

  private recomputeTouched(boxes: (BBox | null)[]): string[] {
    const ids: string[] = [];
    for (const a of this.areaEntries) {
      if (boxes.some((b) => b && bboxOverlap(b, a.bbox))) {
        this.recompute(a);
        ids.push(a.area.id);
      }
    }
    return ids;
  }

  private recompute(a: AreaEntry): void {
    this.recomputations++;
    const level = a.area.requiredLevel;
    const active: PathD[] = [], all: PathD[] = [], any: PathD[] = [];
    const ids: string[] = [];
    let activeCount = 0, allCount = 0;
    for (const e of this.cameras.values()) {
      if (!e.bbox || !bboxOverlap(e.bbox, a.bbox)) continue;
      const v = e.views.get(level) ?? [];
      const vb = viewBBox(v);
      if (vb && bboxOverlap(vb, a.bbox)) {
        all.push(...v);
        allCount++;
        if (e.camera.online && e.camera.healthy) {
          active.push(...v);
          activeCount++;
          ids.push(e.camera.id);
        }
      }
      if (e.camera.online) any.push(...(e.views.get(ANY_LEVEL) ?? []));
    }
    const covered = (clip: PathD[]): number =>
      clip.length ? Math.min(1, pathsArea(intersectD(a.paths, clip, FillRule.NonZero, CLIP_PRECISION)) / a.areaM2) : 0;

    const tree = new PolyTreeD();
    let blindSpots: Polygon[];
    if (active.length) {
      booleanOpDWithPolyTree(ClipType.Difference, a.paths, active, tree, FillRule.NonZero, CLIP_PRECISION);
      blindSpots = [];
      treeToPolygons(tree, blindSpots);
    } else blindSpots = [a.area.polygon];
    const blindSpotM2 = blindSpots.reduce((s, p) => s + polygonArea(p), 0);
    const coveredShare = Math.max(0, Math.min(1, 1 - blindSpotM2 / a.areaM2));
    this.results.set(a.area.id, {
      areaId: a.area.id,
      type: a.area.type,
      requiredLevel: level,
      areaM2: a.areaM2,
      coveredShare,
      anyShare: covered(any),
      ifAllHealthyShare: allCount === activeCount ? coveredShare : covered(all),
      fullyCovered: coveredShare >= this.threshold,
      blindSpots,
      blindSpotM2,
      cameraIds: ids.sort(),
    });
  }
}

/** One-shot full computation for a school. */
export function computeSchoolCoverage(input: SchoolCoverageInput, options?: SchoolCoverageOptions): SchoolCoverageResult {
  return new SchoolCoverage(input, options).result();
}
