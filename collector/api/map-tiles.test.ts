import { describe, expect, it } from 'vitest';
import { mapTilesProblem } from './map-tiles.ts';

describe('mapTilesProblem', () => {
  it('accepts a Tianditu-style template with subdomains and an intranet server', () => {
    expect(mapTilesProblem({ url: 'https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY', subdomains: '01234567' })).toBeNull();
    expect(mapTilesProblem({ url: 'http://10.1.2.3:8080/tiles/{z}/{x}/{y}.png', maxNativeZoom: 19 })).toBeNull();
  });
  it('refuses what the console could not use, saying why', () => {
    expect(mapTilesProblem({ url: 'tiles/{z}/{x}/{y}.png' })).toMatch(/not a URL/);
    expect(mapTilesProblem({ url: 'ftp://x/{z}/{x}/{y}.png' })).toMatch(/http or https/);
    expect(mapTilesProblem({ url: 'http://x/{z}/{x}.png' })).toMatch(/lacks \{y\}/);
    expect(mapTilesProblem({ url: 'http://t{s}.x/{z}/{x}/{y}.png' })).toMatch(/no subdomains/);
    expect(mapTilesProblem({ url: 'http://x/{z}/{x}/{y}.png', maxNativeZoom: 30 })).toMatch(/1–22/);
  });
});
