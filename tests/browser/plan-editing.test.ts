/**
 * The campus-plan editor in Chromium, against the light fixture (a real collector, broker,
 * PostgreSQL and InfluxDB; school 3715020001 with the simulated campus plan and its cameras). In
 * the school view's "编辑平面图": a key area picked from the list and one of its vertices dragged
 * (the stored polygon grows and its coverage changes); a wall drawn across the kitchen camera's view
 * (the kitchen's coverage drops, its blind spot shows); a building picked on the map and renamed;
 * a vertex dragged across the opposite edge (flagged at once, refused by the server with the reason
 * and the shape named, undone); vertices inserted from a midpoint handle and removed by right-click
 * but never below three, and leaving with unsaved changes asks first; a building moved whole; the
 * campus outline drawn again (replacing the old one after a confirm). Screenshots: tests/browser/output/.
 *
 * Places on the map are given in the plan's metres (x east, y north of the school's anchor; see
 * simulator/campus-plans.ts for the layout) and turned into page coordinates through the console's map.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LocalFrame } from '../../collector/compliance/geometry/index.ts';
import { SCHOOL_A } from '../e2e/stack.ts';
import { startConsoleFixture, type ConsoleFixture } from './fixture.ts';
import { BROWSER_TEST_TIMEOUT_MS } from './serve-console.ts';

interface Feature { id: string; properties: Record<string, unknown>; geometry: { type: string; coordinates: number[][] | number[][][] } }
interface Campus { features: Feature[] }
type XY = { x: number; y: number };

describe('campus-plan editor in Chromium', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  let f: ConsoleFixture;
  let frame: LocalFrame;

  /** page coordinates of a plan point */
  const at = async (x: number, y: number) => {
    const g = frame.toLonLat({ x, y });
    return f.pointOf(g.lat, g.lon);
  };
  const drag = async (from: XY, to: XY) => {
    const a = await at(from.x, from.y), b = await at(to.x, to.y);
    await f.page.mouse.move(a.x, a.y);
    await f.page.mouse.down();
    await f.page.mouse.move(b.x, b.y, { steps: 12 });
    await f.page.mouse.up();
  };
  const campus = () => f.api<Campus>(`/api/v1/schools/${SCHOOL_A}/campus`);
  const feature = async (id: string) => (await campus()).features.find((x) => x.id === id);
  /** a stored shape's vertices (outer ring, not closed; a wall's points) in plan metres */
  const metres = (ft: Feature | undefined): XY[] => {
    const g = ft!.geometry;
    const pts = g.type === 'Polygon' ? (g.coordinates as number[][][])[0]!.slice(0, -1) : (g.coordinates as number[][]);
    return pts.map(([lon, lat]) => frame.toLocal({ lon: lon!, lat: lat! }));
  };
  const near = (pts: XY[], p: XY, tol: number) => pts.some((q) => Math.hypot(q.x - p.x, q.y - p.y) <= tol);
  const area = (r: XY[]) => Math.abs(r.reduce((s, p, i) => s + p.x * r[(i + 1) % r.length]!.y - r[(i + 1) % r.length]!.x * p.y, 0)) / 2;
  const bbox = (r: XY[]) => ({ w: Math.min(...r.map((p) => p.x)), e: Math.max(...r.map((p) => p.x)), s: Math.min(...r.map((p) => p.y)), n: Math.max(...r.map((p) => p.y)) });
  const row = (id: string) => f.page.locator(`[data-testid=areas] tr[data-area="${id}"]`);
  const coveredOnPage = async (id: string) => Number(await row(id).getAttribute('data-covered'));
  /** waits for the school view's key-area row to show a coverage share below `limit` (it refreshes after a save) */
  const coverageBelow = (id: string, limit: number) =>
    f.page.waitForFunction(([a, lim]) => Number(document.querySelector(`[data-testid=areas] tr[data-area="${a}"]`)?.getAttribute('data-covered')) < lim, [id, limit] as const);
  /** vertex handles of the shape being edited (not the midpoint ones) */
  const handles = () => f.page.locator('.leaflet-marker-pane .marker-icon:not(.marker-icon-middle)');
  /** into "编辑平面图" (out of it first if a failed test left it open, dropping its changes) */
  const enterEditing = async () => {
    if (await f.page.locator('[data-testid=exit-edit]').isVisible()) {
      await f.page.locator('[data-testid=exit-edit]').click();
      if (await f.page.locator('[data-testid=discard-changes]').isVisible()) await f.page.locator('[data-testid=discard-changes]').click();
    }
    await f.page.locator('[data-testid=edit-plan]').click();
    await f.page.locator('[data-testid=plan-editor]').waitFor();
  };
  const coverage = async (id: string) => (await f.api<{ areas: { id: string; coveredShare: number }[] }>(`/api/v1/schools/${SCHOOL_A}/coverage`)).areas.find((a) => a.id === id)!.coveredShare;
  const save = async () => {
    await f.page.locator('[data-testid=save-plan]').click();
    await f.page.locator('[data-testid=plan-saved]').waitFor();
  };

  beforeAll(async () => {
    f = await startConsoleFixture({ pgAdminUrl: inject('postgresUrl'), influxUrl: inject('influxUrl') });
    const fr = f.spec.campus.frame as { anchor: { lon: number; lat: number } };
    frame = new LocalFrame(fr.anchor);
    await f.page.goto(`${f.base}/#/school/${SCHOOL_A}`);
    await f.signIn();
    await row('playground').waitFor();
  });
  afterAll(async () => {
    await f?.close();
  });

  it('picks a key area in the list and drags a vertex out: the stored area grows and its coverage changes', async () => {
    const before = await coverage('playground');
    expect(area(metres(await feature('playground')))).toBeCloseTo(24 * 30, 0);
    await enterEditing();
    await f.page.locator('[data-testid=plan-shapes] tr[data-feature=playground]').click();
    await f.page.locator('[data-testid=selected-shape][data-feature=playground]').waitFor();
    expect(await handles().count()).toBe(4);
    // the north-east corner (-18, 80) out to (-5, 92)
    await drag({ x: -18, y: 80 }, { x: -5, y: 92 });
    await f.page.locator('[data-testid=undo]:not([disabled])').waitFor();
    await f.shot('plan-vertex-edit.png');
    await save();

    const pts = metres(await feature('playground'));
    expect(pts).toHaveLength(4);
    expect(near(pts, { x: -5, y: 92 }, 0.6)).toBe(true);
    expect(near(pts, { x: -18, y: 80 }, 3)).toBe(false);
    const grown = area([{ x: -42, y: 50 }, { x: -18, y: 50 }, { x: -5, y: 92 }, { x: -42, y: 80 }]);
    expect(Math.abs(area(pts) - grown) / grown).toBeLessThan(0.02);
    // the grown part lies beyond the two playground cameras' views: a smaller share, as the page shows
    const after = await coverage('playground');
    expect(after).toBeLessThan(before);
    await coverageBelow('playground', before);
    expect(await coveredOnPage('playground')).toBeCloseTo(after, 6);
  });

  it("draws a wall across the kitchen camera's view: the kitchen's coverage drops and its blind spot shows", async () => {
    const before = await coverage('kitchen');
    expect(before).toBeGreaterThan(0.9);
    await enterEditing();
    await f.page.locator('[data-testid=draw-wall]').click();
    // drawing has begun before the map is clicked (a click that comes first is not a vertex)
    await f.page.locator('[data-testid=draw-hint]', { hasText: '（0 个顶点）' }).waitFor();
    // between the camera at (-57, 15), looking east, and the kitchen (x -50…-25): a click, then a double-click ends it
    const a = await at(-54, 6), b = await at(-54, 17.5);
    await f.page.mouse.click(a.x, a.y);
    await f.page.locator('[data-testid=draw-hint]', { hasText: '（1 个顶点）' }).waitFor();
    await f.page.mouse.dblclick(b.x, b.y);
    await f.page.locator('[data-testid=shape-form]').waitFor();
    expect(await f.page.locator('[data-testid=shape-kind-fixed]').innerText()).toBe('围墙');
    expect(await f.page.locator('path.drawing-vertex').count()).toBe(2);
    // a thickness the server would refuse is caught in the form
    await f.page.locator('[data-testid=shape-thickness]').fill('12');
    await f.page.locator('[data-testid=thickness-error]').waitFor();
    expect(await f.page.locator('[data-testid=add-shape]').isDisabled()).toBe(true);
    await f.page.locator('[data-testid=shape-thickness]').fill('0.2');
    await f.page.locator('[data-testid=shape-name]').fill('厨房隔墙');
    await f.page.locator('[data-testid=add-shape]').click();
    await f.page.locator('[data-testid=plan-shapes] tr', { hasText: '厨房隔墙' }).waitFor();
    await save();

    const wall = (await campus()).features.find((x) => x.properties.name === '厨房隔墙');
    expect(wall?.properties).toMatchObject({ kind: 'wall', thicknessM: 0.2 });
    const pts = metres(wall);
    expect(pts).toHaveLength(2);
    // within snapping distance of where it was drawn (it may snap onto a nearby edge)
    expect(near(pts, { x: -54, y: 6 }, 3)).toBe(true);
    expect(near(pts, { x: -54, y: 17.5 }, 3)).toBe(true);
    expect(await coverage('kitchen')).toBeLessThan(0.5);
    await coverageBelow('kitchen', 0.5);
    await f.page.locator('path.blind-spot-kitchen').first().waitFor();
    await f.shot('plan-wall.png');
  });

  it('picks a building on the map and renames it', async () => {
    await enterEditing();
    // with the outline selected (a boundary: only its edge takes clicks) a click inside the campus still picks what is there
    await f.page.locator('[data-testid=plan-shapes] tr[data-feature=outline]').click();
    await f.page.locator('[data-testid=selected-shape][data-feature=outline]').waitFor();
    const p = await at(30, 45); // inside the teaching building (10…50, 35…55)
    await f.page.mouse.click(p.x, p.y);
    await f.page.locator('[data-testid=selected-shape][data-feature=teaching-building]').waitFor();
    const name = f.page.locator('[data-testid=selected-shape] [data-testid=shape-name]');
    expect(await name.inputValue()).toBe('教学楼');
    await name.fill('一号教学楼');
    await f.page.locator('[data-testid=plan-shapes] tr[data-feature=teaching-building]', { hasText: '一号教学楼' }).waitFor();
    await save();
    const b = await feature('teaching-building');
    expect(b?.properties).toMatchObject({ kind: 'building', name: '一号教学楼' });
    expect(area(metres(b))).toBeCloseTo(40 * 20, 0);
  });

  it('flags a vertex dragged across the opposite edge at once; the server refuses it with the reason and names the shape; undo restores it', async () => {
    await enterEditing();
    const inside = await at(-37, 15);
    await f.page.mouse.click(inside.x, inside.y);
    await f.page.locator('[data-testid=selected-shape][data-feature=kitchen]').waitFor();
    // the north-east corner (-25, 18) below the south edge (y = 12): the edges cross
    await drag({ x: -25, y: 18 }, { x: -40, y: 8 });
    const warning = f.page.locator('[data-testid=plan-warning]');
    await warning.waitFor();
    expect(await warning.innerText()).toContain('「食堂操作间出入口」边线交叉（自相交）');
    expect(await f.page.locator('[data-testid=plan-shapes] tr[data-feature=kitchen]').getAttribute('class')).toContain('invalid');
    await f.page.locator('path.plan-selected-kitchen.plan-invalid').waitFor();

    await f.page.locator('[data-testid=save-plan]').click();
    const refused = f.page.locator('[data-testid=plan-error]');
    await refused.waitFor();
    expect(await refused.innerText()).toMatch(/^服务器拒绝了平面图：「食堂操作间出入口」（重点区域）边线交叉（自相交） — key-area "kitchen": .*self-intersecting/);
    await f.page.locator('[data-testid=selected-shape][data-feature=kitchen]').waitFor();
    await f.shot('plan-refused.png');
    // nothing was stored
    expect(bbox(metres(await feature('kitchen')))).toEqual({ w: expect.closeTo(-50, 2), e: expect.closeTo(-25, 2), s: expect.closeTo(12, 2), n: expect.closeTo(18, 2) });

    await f.page.locator('[data-testid=undo]').click();
    await refused.waitFor({ state: 'detached' });
    expect(await warning.count()).toBe(0);
    expect(await f.page.locator('path.plan-selected-kitchen.plan-invalid').count()).toBe(0);
    // back as stored: leaving asks nothing
    await f.page.locator('[data-testid=exit-edit]').click();
    await f.page.locator('[data-testid=edit-plan]').waitFor();
  });

  it('inserts a vertex from a midpoint handle, removes vertices by right-click but never below three, and asks before discarding', async () => {
    await enterEditing();
    await f.page.locator('[data-testid=plan-shapes] tr[data-feature=dormitory]').click();
    await f.page.locator('[data-testid=selected-shape][data-feature=dormitory]').waitFor();
    await expect.poll(() => handles().count()).toBe(4);
    // the south edge's midpoint (30, 65) pulled down to (30, 60): a fifth vertex
    await drag({ x: 30, y: 65 }, { x: 30, y: 60 });
    await expect.poll(() => handles().count()).toBe(5);
    // right-clicks remove vertices, down to three and no further
    for (const [x, y, left] of [[30, 60, 4], [10, 65, 3], [50, 65, 3]] as const) {
      const p = await at(x, y);
      await f.page.mouse.click(p.x, p.y, { button: 'right' });
      await expect.poll(() => handles().count()).toBe(left);
    }
    // a picked vertex cannot be removed by the button either
    const ne = await at(50, 85);
    await f.page.mouse.click(ne.x, ne.y);
    expect(await f.page.locator('[data-testid=remove-vertex]').isDisabled()).toBe(true);
    // one undo brings the last removed vertex back
    await f.page.locator('[data-testid=undo]').click();
    await expect.poll(() => handles().count()).toBe(4);
    // unsaved: leaving asks, and discarding leaves the stored plan as it was
    await f.page.locator('[data-testid=exit-edit]').click();
    await f.page.locator('[data-testid=confirm-leave]').waitFor();
    await f.page.locator('[data-testid=discard-changes]').click();
    await f.page.locator('[data-testid=edit-plan]').waitFor();
    expect(metres(await feature('dormitory'))).toHaveLength(4);
  });

  it('moves a building whole', async () => {
    await enterEditing();
    await f.page.locator('[data-testid=plan-shapes] tr[data-feature=dormitory]').click();
    await f.page.locator('[data-testid=mode-move]').click();
    await expect.poll(() => handles().count()).toBe(0);
    await drag({ x: 30, y: 75 }, { x: 30, y: 85 });
    await f.page.locator('[data-testid=undo]:not([disabled])').waitFor();
    await save();
    const box = bbox(metres(await feature('dormitory')));
    expect(box.w).toBeCloseTo(10, 0);
    expect(box.e).toBeCloseTo(50, 0);
    expect(box.s).toBeCloseTo(75, 0);
    expect(box.n).toBeCloseTo(95, 0);
  });

  it('draws the campus outline again: the old one is replaced after a confirm', async () => {
    await enterEditing();
    await f.page.locator('[data-testid=draw-outline]').click();
    for (const [x, y] of [[-66, -12], [66, -12], [66, 106], [-66, 106]] as const) {
      const p = await at(x, y);
      await f.page.mouse.click(p.x, p.y);
    }
    await f.page.locator('[data-testid=draw-hint]', { hasText: '4' }).waitFor();
    await f.page.locator('[data-testid=finish-shape]').click();
    await f.page.locator('[data-testid=replace-outline-hint]').waitFor();
    expect(await f.page.locator('[data-testid=shape-name]').inputValue()).toBe('校园边界');
    expect(await f.page.locator('[data-testid=add-shape]').innerText()).toBe('替换校园边界');
    await f.page.locator('[data-testid=add-shape]').click();
    expect(await f.page.locator('[data-testid=plan-shapes] tr', { hasText: '校园边界' }).count()).toBe(1);
    await save();
    const outlines = (await campus()).features.filter((x) => x.properties.kind === 'outline');
    expect(outlines).toHaveLength(1);
    expect(outlines[0]!.id).toBe('outline');
    const box = bbox(metres(outlines[0]));
    expect(box.w).toBeCloseTo(-66, 0);
    expect(box.e).toBeCloseTo(66, 0);
    expect(box.s).toBeCloseTo(-12, 0);
    expect(box.n).toBeCloseTo(106, 0);
  });

  it('speaks English when the console does', async () => {
    await f.page.locator('[data-testid=lang]').click();
    try {
      await enterEditing();
      await f.page.locator('[data-testid=plan-shapes] tr', { hasText: '厨房隔墙' }).click();
      await f.page.locator('label[for=sh-w]', { hasText: 'Thickness (m)' }).waitFor();
      expect(await f.page.locator('[data-testid=mode-move]').innerText()).toBe('Move whole');
      await f.shot('plan-editor-en.png');
      await f.page.locator('[data-testid=exit-edit]').click();
      await f.page.locator('[data-testid=edit-plan]').waitFor();
    } finally {
      await f.page.locator('[data-testid=lang]').click();
    }
  });
});
