/** Coverage geometry core (pure, no I/O). See docs/decisions/0005-polygon-library.md. */
export * from './types.ts';
export { GeometryError, validateCamera, validateKeyArea, validateObstacle, validatePolygon } from './validate.ts';
export type { GeometryProblem } from './validate.ts';
export { LocalFrame, gcj02ToWgs84, outOfChina, wgs84ToGcj02 } from './projection.ts';
export type { Anchor, LonLat } from './projection.ts';
export {
  CLIP_PRECISION,
  MAX_ARC_STEP_DEG,
  MOUNT_TOLERANCE_M,
  cameraHfovDeg,
  cameraView,
  dMax,
  groundRange,
  hfovFromLens,
  obstacleSegments,
  ppmAt,
} from './camera-view.ts';
export { DEFAULT_FULL_THRESHOLD, SchoolCoverage, computeSchoolCoverage, sameCamera } from './coverage.ts';
export type { AreaCoverage, SchoolCoverageInput, SchoolCoverageOptions, SchoolCoverageResult } from './coverage.ts';
export { ViewCache } from './view-cache.ts';
export { mulberry32, sampleAreaCoverage } from './sampler.ts';
export type { SampleOptions, SampledCoverage } from './sampler.ts';
export { polygonToGeoJson, polygonFromGeoJson } from './geojson.ts';
export type { GeoJsonPolygon } from './geojson.ts';
export { polygonArea, pointInPolygon } from './util.ts';
