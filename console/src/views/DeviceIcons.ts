/**
 * The school's enrolled gear other than cameras (class boards, displays, switches, UPS, sensors…) as
 * icons on the campus plan: a short Chinese glyph per kind, green when the device answers, red when
 * not. Cameras are drawn by the school view itself, with their view sectors.
 */
import L from 'leaflet';

/** One device as `GET /api/v1/schools/{code}/map` gives it. */
export interface GearOnMap {
  deviceId: string;
  kind: string;
  position: { lon: number; lat: number } | null;
  online: boolean;
  building?: string | null;
  room?: string | null;
}

const GLYPH: Record<string, string> = { 'class-board': '班', display: '屏', switch: '交', router: '路', ap: 'AP', 'ap-controller': 'AC', ups: '电', sensor: '感', nvr: '录' };

/** Draws the icons into `group`; returns how many were drawn. */
export function drawGearIcons(group: L.FeatureGroup, gear: GearOnMap[], label: (d: GearOnMap) => string, onClick: (d: GearOnMap) => void, scale = 1): number {
  let n = 0;
  for (const d of gear) {
    if (d.kind === 'camera' || !d.position) continue;
    const size = Math.round(20 * scale);
    const icon = L.divIcon({
      className: `gear-icon gear-${d.kind} ${d.online ? 'up' : 'down'}`,
      html: `<span>${GLYPH[d.kind] ?? '•'}</span>`,
      iconSize: [size, size],
      iconAnchor: [size / 2, size / 2],
    });
    L.marker([d.position.lat, d.position.lon], { icon, keyboard: false })
      .bindTooltip(label(d))
      .on('click', () => onClick(d))
      .addTo(group);
    n++;
  }
  return n;
}
