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
 * that the camera's old or new views touch. To keep a city's cache small (docs/operations.md,
 * "Coverage cache"), a view is computed only when a key area needs it (the widest level always,
 * for the camera's box), kept packed (`packed-rings.ts`, exact to the last bit) in a `ViewCache`
 * that may drop it, and computed again when needed again.
 */
import { ClipType, FillRule, PolyTreeD, booleanOpDWithPolyTree, intersectD } from 'clipper2-ts';
import type { PathD, PolyPathD } from 'clipper2-ts';
import type { BBox } from './util.ts';
import type { Camera, DensityLevel, KeyArea, Obstacle, Polygon, Ring, Segment } from './types.ts';
import { ANY_LEVEL, DENSITY_LEVELS } from './types.ts';
import { CLIP_PRECISION, cameraView, obstacleSegments } from './camera-view.ts';
import { validateCamera, validateKeyArea, validateObstacle } from './validate.ts';
import { bboxOverlap, polygonArea, ringBBox, signedArea } from './util.ts';
import { packPolygons, packRings, packedBBox, unpackPolygons, unpackRings, type PackedPolygons, type PackedRings } from './packed-rings.ts';
import { ViewCache, type ViewSlots } from './view-cache.ts';

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
  /** Where the cameras' views are kept (a collector shares one bounded cache); default: one of its own, unbounded. */
  views?: ViewCache;
}

interface CameraEntry {
  camera: Camera;
  /**
   * Its views held in the cache, by level (counter-clockwise rings). Shared by the entries of one
   * camera geometry (status changes, forks): a slot is filled or emptied, its view never changed.
   */
  views: ViewSlots;
  /** of the least demanding level's view, which holds every other level's */
  bbox: BBox | null;
}

/** A key area's result as kept: its blind spots packed (`areaResult` and `result` unpack them). */
type StoredArea = Omit<AreaCoverage, 'blindSpots'> & { blindSpots: PackedPolygons };

const unpackArea = (a: StoredArea): AreaCoverage => ({ ...a, blindSpots: unpackPolygons(a.blindSpots) });

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

/**
 * Whether two camera inputs are equal field by field (an absent field equals one set to undefined);
 * with `viewsOnly`, apart from the status (online, healthy): whether they have the same views.
 */
export function sameCamera(a: Camera, b: Camera, viewsOnly = false): boolean {
  const x = a as unknown as Record<string, unknown>, y = b as unknown as Record<string, unknown>;
  for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) if (x[k] !== y[k] && !(viewsOnly && (k === 'online' || k === 'healthy'))) return false;
  return true;
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
  private readonly viewCache: ViewCache;
  private readonly areaEntries: AreaEntry[];
  private readonly cameras = new Map<string, CameraEntry>();
  private readonly results = new Map<string, StoredArea>();
  /** Key-area recomputations done since construction (for tests and the bench). */
  recomputations = 0;

  constructor(input: SchoolCoverageInput, options: SchoolCoverageOptions = {}) {
    this.threshold = options.fullThreshold ?? DEFAULT_FULL_THRESHOLD;
    this.viewCache = options.views ?? new ViewCache();
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
   * geometry and every camera's cached views, which are never changed, but has its own camera set
   * and results, so `updateCamera` on the copy recomputes only the touched key areas and leaves
   * this one as it was. O(cameras + areas).
   */
  fork(): SchoolCoverage {
    const copy = Object.create(SchoolCoverage.prototype) as SchoolCoverage;
    return Object.assign(copy, this, { cameras: new Map(this.cameras), results: new Map(this.results), recomputations: 0 });
  }

  /**
   * The camera's view at a level (Clipper rings), for drawing: undefined for an unknown camera or a
   * level that is neither the least demanding nor a key area's. From the cache, else computed (and cached).
   */
  view(cameraId: string, level: DensityLevel): Ring[] | undefined {
    const e = this.cameras.get(cameraId);
    return e && this.levels.includes(level) ? unpackRings(this.packedView(e, level)) : undefined;
  }

  /** The camera as last given (`updateCamera` or the constructor). */
  camera(id: string): Readonly<Camera> | undefined {
    return this.cameras.get(id)?.camera;
  }

  cameraIds(): string[] {
    return [...this.cameras.keys()];
  }

  areaResult(areaId: string): AreaCoverage | undefined {
    const a = this.results.get(areaId);
    return a && unpackArea(a);
  }

  result(): SchoolCoverageResult {
    const areas = this.areaEntries.map((a) => unpackArea(this.results.get(a.area.id)!));
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
    let entry: CameraEntry;
    if (old && sameCamera(old.camera, camera, true)) entry = { camera, views: old.views, bbox: old.bbox };
    else {
      const views: ViewSlots = new Array(DENSITY_LEVELS.length);
      // Every level's view lies inside the least demanding level's view.
      entry = { camera, views, bbox: null };
      entry.bbox = packedBBox(this.packedView(entry, ANY_LEVEL));
    }
    this.cameras.set(camera.id, entry);
    return entry;
  }

  private computeView(camera: Camera, level: DensityLevel): Ring[] {
    return cameraView(camera, level, this.segments).map(ccw);
  }

  /** The camera's view at a level: from the cache, else computed and put in it. */
  private packedView(e: CameraEntry, level: DensityLevel): PackedRings {
    const i = DENSITY_LEVELS.indexOf(level);
    let v = this.viewCache.get(e.views, i);
    if (!v) {
      v = packRings(this.computeView(e.camera, level));
      this.viewCache.put(e.views, i, v);
    }
    return v;
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
      const packed = this.packedView(e, level);
      const vb = packedBBox(packed);
      if (vb && bboxOverlap(vb, a.bbox)) {
        const v = unpackRings(packed);
        all.push(...v);
        allCount++;
        if (e.camera.online && e.camera.healthy) {
          active.push(...v);
          activeCount++;
          ids.push(e.camera.id);
        }
      }
      if (e.camera.online) any.push(...unpackRings(this.packedView(e, ANY_LEVEL)));
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
      blindSpots: packPolygons(blindSpots),
      blindSpotM2,
      cameraIds: ids.sort(),
    });
  }
}

/** One-shot full computation for a school. */
export function computeSchoolCoverage(input: SchoolCoverageInput, options?: SchoolCoverageOptions): SchoolCoverageResult {
  return new SchoolCoverage(input, options).result();
}
