/**
 * An image on the Leaflet map placed by three corners (top-left, top-right, bottom-left): rotated,
 * scaled and skewed by one CSS `matrix()` from the image's own pixels to the map's layer pixels.
 * Leaflet's ImageOverlay only knows north-up bounds; see docs/decisions/0009-floor-plan-overlay.md
 * for why this small layer rather than a plugin.
 *
 * The matrix is exact at the three corners and linear between them; Web Mercator is not linear, but
 * over a campus (< 5 km) the difference is centimetres.
 *
 * Events: `load` once the image is decoded; `error` when it cannot be fetched or its header read;
 * `undecodable` when the header is fine but the pixels cannot be decoded (a damaged file the
 * collector's structural checks let through, e.g. a JPEG or WebP with broken compressed data).
 */
import L from 'leaflet';
import type { FloorPlanGeoref } from '../api';

/** The pane the floor plan is drawn in: above tiles (200), under the campus plan's vectors (overlayPane, 400). */
export const FLOORPLAN_PANE = 'floorplan';

export function floorPlanPane(map: L.Map): string {
  if (!map.getPane(FLOORPLAN_PANE)) {
    const pane = map.createPane(FLOORPLAN_PANE);
    pane.style.zIndex = '300';
    pane.style.pointerEvents = 'none';
  }
  return FLOORPLAN_PANE;
}

/** Leaflet's own (private, stable since 1.0) projection for the point a lat/lng will have at the end of a zoom animation. */
type ZoomAnimMap = L.Map & { _latLngToNewLayerPoint(ll: L.LatLng, zoom: number, centre: L.LatLng): L.Point };

export class AffineImageOverlay extends L.Layer {
  private img: HTMLImageElement | null = null;
  private corners: FloorPlanGeoref;
  private opacity: number;
  private readonly className: string;

  constructor(
    private readonly url: string,
    private readonly size: { width: number; height: number },
    corners: FloorPlanGeoref,
    opts: { opacity: number; className?: string },
  ) {
    super();
    this.corners = corners;
    this.opacity = opts.opacity;
    this.className = opts.className ?? '';
  }

  override onAdd(map: L.Map): this {
    const img = L.DomUtil.create('img', `leaflet-image-layer leaflet-zoom-animated ${this.className}`) as HTMLImageElement;
    img.alt = '';
    img.draggable = false;
    img.decoding = 'async';
    // the element is the image at its own pixel size; the transform does the rest
    Object.assign(img.style, { width: `${this.size.width}px`, height: `${this.size.height}px`, transformOrigin: '0 0', opacity: String(this.opacity) });
    img.onload = () => void this.checkDecodes(img);
    img.onerror = () => this.fire('error'); // not fetched (gone meanwhile, network) or an unreadable header
    img.src = this.url;
    map.getPane(floorPlanPane(map))!.appendChild(img);
    this.img = img;
    this.reset();
    return this;
  }

  override onRemove(): this {
    this.img?.remove();
    this.img = null;
    return this;
  }

  override getEvents(): Record<string, L.LeafletEventHandlerFn> {
    const events: Record<string, L.LeafletEventHandlerFn> = { zoom: () => this.reset(), viewreset: () => this.reset() };
    if (this._map?.options.zoomAnimation) events.zoomanim = (e) => this.animateZoom(e as L.ZoomAnimEvent);
    return events;
  }

  /**
   * Chromium fires `load`, and even resolves `img.decode()`, for an image whose header it can read
   * but whose pixel data its decoder refuses, and then draws nothing. Making a 1 × 1 bitmap from the
   * image decodes it for real and fails then (checked with Chromium 156; other browsers reject decode()).
   */
  private async checkDecodes(img: HTMLImageElement): Promise<void> {
    let decoded = true;
    try {
      await img.decode();
      if (typeof createImageBitmap === 'function') (await createImageBitmap(img, { resizeWidth: 1, resizeHeight: 1 })).close();
    } catch {
      decoded = false;
    }
    if (this.img !== img) return; // removed or replaced meanwhile
    img.dataset.decoded = decoded ? 'yes' : 'no'; // for tests and for whoever inspects the page
    this.fire(decoded ? 'load' : 'undecodable');
  }

  setCorners(c: FloorPlanGeoref): this {
    this.corners = c;
    this.reset();
    return this;
  }

  setOpacity(o: number): this {
    this.opacity = o;
    if (this.img) this.img.style.opacity = String(o);
    return this;
  }

  getElement(): HTMLImageElement | null {
    return this.img;
  }

  private reset(): void {
    if (!this.img || !this._map) return;
    const m = this._map;
    this.place((ll) => m.latLngToLayerPoint(ll));
  }

  private animateZoom(e: L.ZoomAnimEvent): void {
    const m = this._map as ZoomAnimMap;
    this.place((ll) => m._latLngToNewLayerPoint(ll, e.zoom, e.center));
  }

  /** Sets the matrix taking pixel (0,0), (W,0), (0,H) to the three corners' layer points. */
  private place(toPoint: (ll: L.LatLng) => L.Point): void {
    if (!this.img) return;
    const { topLeft, topRight, bottomLeft } = this.corners;
    const tl = toPoint(L.latLng(topLeft.lat, topLeft.lon));
    const tr = toPoint(L.latLng(topRight.lat, topRight.lon));
    const bl = toPoint(L.latLng(bottomLeft.lat, bottomLeft.lon));
    const { width: w, height: h } = this.size;
    const a = (tr.x - tl.x) / w, b = (tr.y - tl.y) / w, c = (bl.x - tl.x) / h, d = (bl.y - tl.y) / h;
    this.img.style.transform = `matrix(${a}, ${b}, ${c}, ${d}, ${tl.x}, ${tl.y})`;
  }
}
