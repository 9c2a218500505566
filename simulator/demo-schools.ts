/**
 * Deterministic simulated schools for a city: a mix of primary, junior and senior schools per
 * county, public and private, placed around the county centre, with the school codes built from
 * the county code so they are stable between runs.
 */
import type { RegionInput, SchoolInput } from '../collector/store/index.ts';
import { mulberry32 } from '../collector/compliance/geometry/sampler.ts';

const KINDS: { type: SchoolInput['type']; suffix: string; students: [number, number] }[] = [
  { type: 'primary', suffix: '实验小学', students: [600, 2400] },
  { type: 'junior', suffix: '第一初级中学', students: [900, 2800] },
  { type: 'senior', suffix: '第一中学', students: [1800, 4200] },
  { type: 'nine-year', suffix: '九年一贯制学校', students: [1000, 2600] },
];

/** Small deterministic PRNG so the same city comes out every run (the geometry sampler's). */
export const rng = mulberry32;

export function demoSchools(counties: RegionInput[], perCounty: number): SchoolInput[] {
  const out: SchoolInput[] = [];
  for (const c of counties) {
    const rand = rng(Number(c.code));
    for (let i = 1; i <= perCounty; i++) {
      const kind = KINDS[(i - 1) % KINDS.length]!;
      const students = Math.round(kind.students[0] + rand() * (kind.students[1] - kind.students[0]));
      const isPrivate = i % 5 === 0;
      const base = c.name.replace(/(区|县|市)$/, '');
      out.push({
        code: `${c.code}${String(i).padStart(4, '0')}`,
        name: `${base}${i > KINDS.length ? `第${Math.ceil(i / KINDS.length)}` : ''}${kind.suffix}`,
        countyCode: c.code,
        type: kind.type,
        ownership: isPrivate ? 'private' : 'public',
        studentCount: students,
        staffCount: Math.round(students / 12),
        contractedUplinkMbps: students >= 2500 ? 10_000 : isPrivate ? 100 : 1000,
        lon: c.centreLon != null ? Number((c.centreLon + (rand() - 0.5) * 0.12).toFixed(6)) : null,
        lat: c.centreLat != null ? Number((c.centreLat + (rand() - 0.5) * 0.09).toFixed(6)) : null,
        address: `${c.name}第${i}号`,
      });
    }
  }
  return out;
}
