import { describe, expect, it } from 'vitest';
import { hashOf, parseHash } from './route';

describe('deep links', () => {
  it('reads and writes the existing links unchanged', () => {
    for (const h of ['#/users', '#/city?ind=coverage', '#/city?ind=open-findings', '#/county/371502', '#/county/371502?type=senior&finding=coverage', '#/school/3715020001', '#/school/3715020001?sel=cam-gate'])
      expect(hashOf(parseHash(h))).toBe(h);
    expect(parseHash('#/county/371502?finding=coverage')).toEqual({ view: 'county', county: '371502', type: '', finding: 'coverage' });
    expect(parseHash('')).toEqual({ view: 'city', indicator: 'coverage' });
    expect(parseHash('#/city?ind=nonsense')).toEqual({ view: 'city', indicator: 'coverage' });
  });

  it('carries the wall display on every view', () => {
    expect(parseHash('#/city?display=wall')).toEqual({ view: 'city', indicator: 'coverage', display: 'wall' });
    expect(hashOf(parseHash('#/city?display=wall'))).toBe('#/city?ind=coverage&display=wall');
    expect(parseHash('#/county/371502?finding=ipv6&display=wall')).toEqual({ view: 'county', county: '371502', type: '', finding: 'ipv6', display: 'wall' });
    expect(hashOf({ view: 'school', school: '3715020001', selected: '', display: 'wall' })).toBe('#/school/3715020001?display=wall');
    // anything else is the desk console
    expect(parseHash('#/city?display=desk').display).toBeUndefined();
    expect(hashOf({ view: 'school', school: '3715020001', selected: 'cam 1', display: undefined })).toBe('#/school/3715020001?sel=cam+1');
    expect(parseHash('#/school/3715020001?sel=cam+1').view === 'school' && parseHash('#/school/3715020001?sel=cam+1')).toMatchObject({ selected: 'cam 1' });
  });
});
