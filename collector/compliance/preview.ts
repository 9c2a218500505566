/**
 * What-if coverage while a camera is being placed or moved (the console asks on every drag frame):
 * the shape of the answer and the small geometry it needs. The service computes it on a fork of the
 * school's cached coverage; nothing is stored, published or recorded.
 */
import { FillRule, intersectD } from 'clipper2-ts';
import { CLIP_PRECISION, pointInPolygon, polygonToGeoJson, type DensityLevel, type GeoJsonPolygon, type LocalFrame, type Polygon, type Ring, type SchoolCoverageResult } from './geometry/index.ts';
import { signedArea } from './geometry/util.ts';
import type { Placement } from '../store/index.ts';
import type { CameraStatus, CoverageReport } from './service.ts';

/** Cameras one preview may move at once (the console sends one; a bulk re-plan a few). */
export const MAX_PREVIEW_CAMERAS = 16;

export interface PreviewCamera {
  agentId: string;
  deviceId: string;
  placement: Placement;
}

/** A previewed camera's view at one density level, cut by walls and buildings. */
export interface PreviewView {
  level: DensityLevel;
  requiredPpm: number;
  /** key areas requiring this level that the view overlaps */
  keyAreas: string[];
  /** WGS84 when the plan is georeferenced, else plan metres */
  polygons: GeoJsonPolygon[];
}

export interface PreviewedCamera extends CameraStatus {
  /** its inventory state: `discovered`/`seen` (counted as if enrolled) or `enrolled` */
  state: string;
  /** one per distinct required level of the plan's key areas, least demanding (farthest) first */
  views: PreviewView[];
}

export interface CoverageFigures {
  weightedCoverage: number;
  fullyCoveredShare: number;
  areas: { id: string; coveredShare: number; fullyCovered: boolean }[];
}

/** `GET …/coverage`'s report with the previewed placements, and what to compare it with. */
export interface CoveragePreview extends CoverageReport {
  preview: true;
  /** the stored coverage at the same moment */
  current: CoverageFigures;
  /** with the previewed cameras online and healthy (one still in the inbox may have no health yet) */
  ifPreviewedHealthy: CoverageFigures;
  previewed: PreviewedCamera[];
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;

export function figuresOf(r: SchoolCoverageResult): CoverageFigures {
  return {
    weightedCoverage: round(r.weightedCoverage),
    fullyCoveredShare: round(r.fullyCoveredShare),
    areas: r.areas.map((a) => ({ id: a.areaId, coveredShare: round(a.coveredShare), fullyCovered: a.fullyCovered })),
  };
}

/** Whether a view overlaps a key area by more than 0.01 m² (not merely touching its edge). */
export function viewReaches(view: readonly Ring[], area: Polygon): boolean {
  if (!view.length) return false;
  const hit = intersectD([area.outer, ...area.holes], [...view], FillRule.EvenOdd, CLIP_PRECISION);
  return Math.abs(hit.reduce((s, r) => s + signedArea(r), 0)) > 0.01;
}

/**
 * A view's rings (Clipper's convention: outers counter-clockwise, holes clockwise) as GeoJSON
 * polygons, each hole under the outer ring that holds it (a tilted all-round camera's blind zone).
 */
export function viewToGeoJson(view: readonly Ring[], lf: LocalFrame | undefined): GeoJsonPolygon[] {
  const outers = view.filter((r) => signedArea(r) > 0).map((outer): Polygon => ({ outer, holes: [] }));
  for (const hole of view.filter((r) => signedArea(r) < 0)) outers.find((p) => hole[0] && pointInPolygon(hole[0], p))?.holes.push(hole);
  return outers.map((p) => polygonToGeoJson(p, lf));
}
