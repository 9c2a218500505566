import { describe, expect, it } from 'vitest';
import { LocalFrame, gcj02ToWgs84, outOfChina, wgs84ToGcj02 } from './projection.ts';

/** Vincenty's inverse formula on WGS84: geodesic distance in metres (independent check). */
function vincenty(lon1: number, lat1: number, lon2: number, lat2: number): number {
  const a = 6378137, f = 1 / 298.257223563, b = a * (1 - f);
  const r = Math.PI / 180;
  const L = (lon2 - lon1) * r;
  const U1 = Math.atan((1 - f) * Math.tan(lat1 * r)), U2 = Math.atan((1 - f) * Math.tan(lat2 * r));
  const sU1 = Math.sin(U1), cU1 = Math.cos(U1), sU2 = Math.sin(U2), cU2 = Math.cos(U2);
  let lam = L, prev = 0, sS = 0, cS = 0, sig = 0, c2a = 0, c2sm = 0;
  for (let i = 0; i < 200; i++) {
    const sl = Math.sin(lam), cl = Math.cos(lam);
    sS = Math.sqrt((cU2 * sl) ** 2 + (cU1 * sU2 - sU1 * cU2 * cl) ** 2);
    cS = sU1 * sU2 + cU1 * cU2 * cl;
    sig = Math.atan2(sS, cS);
    const sa = (cU1 * cU2 * sl) / sS;
    c2a = 1 - sa * sa;
    c2sm = cS - (2 * sU1 * sU2) / c2a;
    const C = (f / 16) * c2a * (4 + f * (4 - 3 * c2a));
    prev = lam;
    lam = L + (1 - C) * f * sa * (sig + C * sS * (c2sm + C * cS * (-1 + 2 * c2sm * c2sm)));
    if (Math.abs(lam - prev) < 1e-13) break;
  }
  const u2 = (c2a * (a * a - b * b)) / (b * b);
  const A = 1 + (u2 / 16384) * (4096 + u2 * (-768 + u2 * (320 - 175 * u2)));
  const B = (u2 / 1024) * (256 + u2 * (-128 + u2 * (74 - 47 * u2)));
  const dS = B * sS * (c2sm + (B / 4) * (cS * (-1 + 2 * c2sm * c2sm) - (B / 6) * c2sm * (-3 + 4 * sS * sS) * (-3 + 4 * c2sm * c2sm)));
  return b * A * (sig - dS);
}

describe('local frame (transverse Mercator around the anchor)', () => {
  // A school in 聊城市东昌府区 (WGS84).
  const anchor = { lon: 115.985, lat: 36.457 };
  const frame = new LocalFrame(anchor);

  it('puts the anchor at the origin, north up', () => {
    const o = frame.toLocal(anchor);
    expect(Math.hypot(o.x, o.y)).toBeLessThan(1e-9);
    const n = frame.toLocal({ lon: anchor.lon, lat: anchor.lat + 0.01 });
    expect(Math.abs(n.x)).toBeLessThan(1e-9);
    expect(n.y).toBeGreaterThan(1100);
  });

  it('distances agree with the WGS84 geodesic to a centimetre over several km', () => {
    const pts = [
      { lon: 116.01, lat: 36.47 },
      { lon: 115.96, lat: 36.43 },
      { lon: 116.02, lat: 36.44 },
      { lon: 115.95, lat: 36.48 },
    ];
    for (const p of pts) for (const q of pts) {
      if (p === q) continue;
      const a = frame.toLocal(p), b = frame.toLocal(q);
      const geo = vincenty(p.lon, p.lat, q.lon, q.lat);
      expect(geo).toBeGreaterThan(2000);
      expect(Math.abs(Math.hypot(a.x - b.x, a.y - b.y) - geo)).toBeLessThan(0.01);
    }
  });

  it('round-trips to a millimetre', () => {
    for (const p of [{ x: 0, y: 0 }, { x: 2500, y: -1800 }, { x: -3000, y: 3000 }]) {
      const back = frame.toLocal(frame.toLonLat(p));
      expect(Math.hypot(back.x - p.x, back.y - p.y)).toBeLessThan(1e-3);
    }
  });

  it('rotates a georeferenced plan: rotationDeg is the bearing of the plan +y axis', () => {
    const rot = new LocalFrame({ ...anchor, rotationDeg: 90 }); // plan +y points east
    const east = frame.toLonLat({ x: 100, y: 0 });
    const p = rot.toLocal(east);
    expect(p.x).toBeCloseTo(0, 4);
    expect(p.y).toBeCloseTo(100, 4);
    const q = rot.toLonLat({ x: 0, y: 100 });
    expect(q.lon).toBeCloseTo(east.lon, 10);
    expect(q.lat).toBeCloseTo(east.lat, 10);
  });
});

describe('GCJ-02', () => {
  // Published test vectors of the public algorithm (eviltransform): WGS84 → GCJ-02.
  const vectors = [
    { wgs: { lat: 31.1774276, lon: 121.5272106 }, gcj: { lat: 31.17530398364597, lon: 121.531541859215 } }, // Shanghai
    { wgs: { lat: 22.543847, lon: 113.912316 }, gcj: { lat: 22.540796131694766, lon: 113.9171764808363 } }, // Shenzhen
    { wgs: { lat: 39.911954, lon: 116.377817 }, gcj: { lat: 39.91334545536069, lon: 116.38404722455657 } }, // Beijing
  ];

  it('WGS84 → GCJ-02 matches the published points', () => {
    for (const v of vectors) {
      const g = wgs84ToGcj02(v.wgs);
      expect(Math.abs(g.lat - v.gcj.lat)).toBeLessThan(1e-9);
      expect(Math.abs(g.lon - v.gcj.lon)).toBeLessThan(1e-9);
    }
  });

  it('GCJ-02 → WGS84 recovers the WGS84 points to a millimetre', () => {
    for (const v of vectors) {
      const w = gcj02ToWgs84(v.gcj);
      const f = new LocalFrame(v.wgs);
      const d = f.toLocal(w);
      expect(Math.hypot(d.x, d.y)).toBeLessThan(1e-3);
    }
  });

  it('offsets by hundreds of metres inside China and not at all outside', () => {
    const f = new LocalFrame(vectors[2]!.wgs);
    const d = f.toLocal(vectors[2]!.gcj);
    expect(Math.hypot(d.x, d.y)).toBeGreaterThan(100);
    expect(Math.hypot(d.x, d.y)).toBeLessThan(1000);
    expect(outOfChina({ lon: 2.35, lat: 48.85 })).toBe(true);
    expect(wgs84ToGcj02({ lon: 2.35, lat: 48.85 })).toEqual({ lon: 2.35, lat: 48.85 });
  });
});
