import { useCallback, useEffect, useMemo, useState } from 'react';
import type L from 'leaflet';
import { ApiFailure, auth, put, schoolPath, type FeatureCollection, type Frame, type GeoFeature } from '../api';
import type { Lang, MessageKey } from '../i18n/index';
import { keyAreaTypeDef } from '../keyAreaTypes';
import type * as Geoman from './PlanGeoman';
import { useDrawing, usePendingPreview, type DrawWhat } from './PlanDrawing';
import {
  DEFAULT_TYPE, isRings, kindOf, latLngsOf, minVertices, newId, outerOf, propertiesFor, propsOf, refusedShape, sameLatLngs, thicknessOf,
  withLatLngs, withoutVertex, withProps, type LatLng, type ShapeKind, type ShapeLatLngs, type ShapeProps, type VertexPath,
} from './PlanFeatures';
import { usePlanHistory } from './PlanHistory';
import { EDIT_PANE, editRenderer } from './PlanMapStyle';
import { kindLabel, PlanShapeFields } from './PlanShapeForm';
import { PlanShapeList } from './PlanShapeList';
import { useMapPick, useSelectedShape, useSnapGuides, type EditMode } from './PlanVertexEditing';
import type { Gate } from '../auth/permissions';
import { failureText } from '../auth/session';

interface Pending { what: DrawWhat; ring: LatLng[]; props: ShapeProps }
const PROBLEMS = ['not-finite', 'too-few-points', 'zero-area', 'self-intersecting', 'hole-outside', 'bad-key-area'];
const typing = (e: KeyboardEvent) => e.target instanceof HTMLElement && /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName);

/**
 * "编辑平面图": the campus plan's shapes drawn and changed on the map — key areas, buildings, walls,
 * the outline — with their properties in a form, undo, and saving the whole plan with
 * `PUT …/campus`. Crossing edges are flagged as they happen; the server is the judge, and when it
 * refuses the plan the editor names the shape and selects it. While editing, `onDraft` gives the
 * plan as edited so far, without the selected shape (the editor draws that one, editable).
 */
export function PlanEditor({ map, t, lang, code, campus, gate, anchor, onDraft, onSaved }: {
  map: L.Map;
  t: (k: MessageKey) => string;
  lang: Lang;
  code: string;
  campus: FeatureCollection | null;
  /** whether the one signed in may change this school's plan (a 401 while editing keeps the edits: sign in, save again) */
  gate: Gate;
  /** where a school without a plan is anchored */
  anchor: { lon: number; lat: number } | null;
  onDraft: (fc: FeatureCollection | null) => void;
  onSaved: (fc: FeatureCollection) => void;
}) {
  const plan = usePlanHistory();
  const features = plan.features;
  const [gm, setGm] = useState<typeof Geoman | null>(null);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [vertex, setVertex] = useState<VertexPath | null>(null);
  const [mode, setMode] = useState<EditMode>('vertices');
  const [drawing, setDrawing] = useState<{ what: DrawWhat; count: number } | null>(null);
  const [pending, setPending] = useState<Pending | null>(null);
  const [error, setError] = useState('');
  const [saved, setSaved] = useState(false);
  const [saving, setSaving] = useState(false);
  const [loading, setLoading] = useState(false);
  const [confirmLeave, setConfirmLeave] = useState(false);

  const frame: Frame | null = campus?.frame ?? (anchor ? { kind: 'wgs84', anchor, rotationDeg: 0 } : null);
  const editing = features !== null && gm !== null;
  const selected = (selectedId && features?.find((f) => String(f.id) === selectedId)) || null;
  const outline = features?.find((f) => kindOf(f) === 'outline') ?? null;

  useEffect(() => {
    onDraft(features && frame ? { type: 'FeatureCollection', frame, features: features.filter((f) => String(f.id) !== selectedId) } : null);
  }, [features, selectedId]);
  useEffect(() => () => onDraft(null), [onDraft]);
  useEffect(() => {
    if (selectedId && features && !selected) setSelectedId(null); // undone or deleted
  }, [selectedId, features, selected]);
  useEffect(() => setError(''), [features]); // a refusal is about the plan as it was sent

  // geoman's tooltips follow the console's language
  useEffect(() => {
    if (gm) gm.prepare(map, lang === 'en' ? 'en' : 'zh', { firstVertex: t('planTip.firstVertex'), continueLine: t('planTip.continueLine'), finishLine: t('planTip.finishLine'), finishPoly: t('planTip.finishPoly') }, EDIT_PANE);
  }, [gm, map, lang, t]);

  /** what would be refused: crossing edges, too few vertices (cheap to see here; the server decides) */
  const problems = useMemo(() => {
    const out = new Map<string, string>();
    for (const f of features ?? []) {
      const ll = latLngsOf(f), n = outerOf(ll).length;
      if (n < minVertices(f)) out.set(String(f.id), t('planProblem.too-few-points'));
      else if (gm && isRings(ll) && gm.selfIntersects(ll)) out.set(String(f.id), t('planProblem.self-intersecting'));
    }
    return out;
  }, [features, gm, t]);

  const select = useCallback((id: string | null) => {
    setSelectedId(id);
    setVertex(null);
    setMode('vertices');
  }, []);
  const edited = (ll: ShapeLatLngs) => {
    if (!selected || sameLatLngs(ll, latLngsOf(selected))) return;
    const id = selected.id;
    plan.change((fs) => fs.map((f) => (f.id === id ? withLatLngs(f, ll) : f)));
    setSaved(false);
  };
  const removeVertex = () => {
    const next = selected && vertex && withoutVertex(selected, vertex);
    if (!next) return;
    plan.change((fs) => fs.map((f) => (f.id === next.id ? next : f)));
    setVertex(null);
  };
  const remove = (id: string) => {
    plan.change((fs) => fs.filter((f) => String(f.id) !== id));
    if (id === selectedId) select(null);
  };
  const update = (patch: Partial<ShapeProps>) => {
    if (!selected) return;
    const id = selected.id;
    plan.change((fs) => fs.map((f) => (f.id === id ? withProps(f, patch) : f)), `${String(id)}:${Object.keys(patch).join()}`);
  };

  useDrawing(map, gm, drawing?.what ?? null, {
    count: (n) => setDrawing((d) => d && { ...d, count: n }),
    created: (ring) => {
      const what = drawing?.what ?? 'area';
      const kind: ShapeKind = what === 'area' ? 'key-area' : what;
      const name = what === 'outline' && outline ? propsOf(outline).name : '';
      setPending({ what, ring, props: { kind, name, type: DEFAULT_TYPE.type, level: DEFAULT_TYPE.requiredLevel, thickness: '' } });
    },
    ended: () => setDrawing(null),
  });
  usePendingPreview(map, pending);
  useSelectedShape(map, gm, editing && !drawing && !pending ? selected : null, mode, selected ? problems.has(String(selected.id)) : false, { edited, vertex: setVertex });
  useSnapGuides(map, gm, editing ? features : null, selectedId);
  useMapPick(map, editing && !drawing && !pending, mode === 'move', features, select);

  const startDraw = (what: DrawWhat) => {
    select(null);
    setDrawing({ what, count: 0 });
    setError('');
    setSaved(false);
  };
  const add = () => {
    if (!pending || !features) return;
    const { what, ring, props } = pending;
    const replacing = what === 'outline' ? outline : null;
    const id = replacing ? String(replacing.id) : newId(features);
    const def = keyAreaTypeDef(props.type) ?? DEFAULT_TYPE;
    const defaultName = props.kind === 'key-area' ? (lang === 'en' ? def.en : def.zh) : kindLabel(props.kind, t);
    const shell: GeoFeature = { type: 'Feature', id, properties: propertiesFor(props, defaultName), geometry: null };
    const f = withLatLngs(shell, what === 'wall' ? ring : [ring]);
    plan.change((fs) => (replacing ? [f, ...fs.filter((x) => x !== replacing)] : [...fs, f]));
    setPending(null);
    select(id);
  };

  const start = async () => {
    setLoading(true);
    setError('');
    setSaved(false);
    try {
      const mod = await import('./PlanGeoman');
      editRenderer(map);
      setGm(mod);
      plan.reset((campus?.features ?? []).map((f) => ({ ...f, properties: f.properties ? { ...f.properties } : null })));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setLoading(false);
    }
  };
  const leave = () => {
    setDrawing(null);
    setPending(null);
    select(null);
    setConfirmLeave(false);
    plan.reset(null);
    setError('');
  };
  const save = async () => {
    if (!features || !frame) return;
    if (!auth.token) return setError(t('needToken'));
    setSaving(true);
    setError('');
    try {
      // levels the collector filled in from the policy stay the policy's; a cleared name is the kind's
      const out = features.map((f) => {
        const { levelFromPolicy, requiredLevel, ...rest } = f.properties ?? {};
        const name = typeof rest.name === 'string' && rest.name.trim() ? rest.name : kindLabel(kindOf(f) ?? 'key-area', t);
        return { ...f, properties: { ...rest, name, ...(levelFromPolicy || requiredLevel === undefined ? {} : { requiredLevel }) } };
      });
      const fc = await put<FeatureCollection>(`${schoolPath(code)}/campus`, { type: 'FeatureCollection', frame, features: out });
      leave();
      setSaved(true);
      onSaved(fc);
    } catch (err) {
      // signed out meanwhile (401) or not this account's school (403): not the plan's fault
      if (err instanceof ApiFailure && (err.status === 401 || err.status === 403)) return setError(failureText(t, err));
      const r = err instanceof ApiFailure ? refusedShape(err.details) : null;
      const f = r && features.find((x) => String(x.id) === r.id);
      const what = f ? `「${String(f.properties?.name || f.id)}」（${kindLabel(kindOf(f) ?? 'key-area', t)}）` : '';
      const problem = r && PROBLEMS.includes(r.problem) ? t(`planProblem.${r.problem}` as MessageKey) : '';
      setError(`${t('planRefused')}：${what}${problem}${what || problem ? ' — ' : ''}${(err as Error).message}`);
      if (f) select(String(f.id));
    } finally {
      setSaving(false);
    }
  };

  // keys: Ctrl+Z undoes, Delete removes the vertex picked, Esc lets go of the shape
  useEffect(() => {
    if (!editing) return;
    const on = (e: KeyboardEvent) => {
      if (typing(e) || drawing || pending) return;
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'z') {
        e.preventDefault();
        plan.undo();
      } else if ((e.key === 'Delete' || e.key === 'Backspace') && vertex) removeVertex();
      else if (e.key === 'Escape') select(null);
    };
    document.addEventListener('keydown', on);
    return () => document.removeEventListener('keydown', on);
  });

  if (!frame || (gate.hidden && !editing)) return null;
  if (!editing)
    return (
      <p>
        <button data-testid="edit-plan" disabled={loading || gate.disabled} title={gate.title} onClick={() => void start()}>{t('editPlan')}</button>
        {loading && <span className="muted"> {t('loading')}</span>}
        {saved && <span className="pass" data-testid="plan-saved"> {t('planSaved')}</span>}
        {error && <span className="error" data-testid="plan-error"> {error}</span>}
      </p>
    );

  const selProblem = selected ? problems.get(String(selected.id)) : undefined;
  const selKind = selected ? kindOf(selected) : null;
  const canRemoveVertex = !!(selected && vertex && withoutVertex(selected, vertex));
  const badThickness = (v: ShapeProps) => v.kind === 'wall' && Number.isNaN(thicknessOf(v.thickness) ?? 0);
  return (
    <div className="plan-editor" data-testid="plan-editor">
      <h2>{t('editPlan')}</h2>
      <div className="plan-tools">
        {drawing ? (
          <>
            <span data-testid="draw-hint" className="wide">{t(drawing.what === 'wall' ? 'drawWallHint' : 'drawHint')}（{drawing.count} {t('vertices')}）</span>
            <button data-testid="finish-shape" disabled={drawing.count < (drawing.what === 'wall' ? 2 : 3)} onClick={() => gm.finish(map, drawing.what === 'wall' ? 'Line' : 'Polygon')}>{t('finishShape')}</button>
            <button data-testid="undo-vertex" disabled={drawing.count < 2} onClick={() => gm.removeLastVertex(map, drawing.what === 'wall' ? 'Line' : 'Polygon', drawing.count)}>{t('undoVertex')}</button>
            <button data-testid="cancel-draw" onClick={() => setDrawing(null)}>{t('cancel')}</button>
          </>
        ) : (
          !pending && (
            <>
              <button data-testid="draw-shape" onClick={() => startDraw('area')}>{t('drawShape')}</button>
              <button data-testid="draw-wall" onClick={() => startDraw('wall')}>{t('drawWall')}</button>
              <button data-testid="draw-outline" onClick={() => startDraw('outline')}>{t(outline ? 'redrawOutline' : 'drawOutline')}</button>
              <button data-testid="undo" disabled={!plan.canUndo} title="Ctrl+Z" onClick={plan.undo}>{t('undo')}</button>
            </>
          )
        )}
      </div>
      {pending && (
        <div className="place" data-testid="shape-form">
          {pending.what === 'outline' && outline && <span className="wide warn" data-testid="replace-outline-hint">{t('replaceOutlineHint')}</span>}
          <PlanShapeFields value={pending.props} kinds={pending.what === 'area' ? ['key-area', 'building'] : [pending.props.kind]} t={t} lang={lang}
            onChange={(patch) => setPending({ ...pending, props: { ...pending.props, ...patch } })} />
          <button data-testid="add-shape" disabled={badThickness(pending.props)} onClick={add}>{t(pending.what === 'outline' && outline ? 'replaceOutline' : 'addShape')}</button>
          <button onClick={() => setPending(null)}>{t('cancel')}</button>
        </div>
      )}
      {!drawing && !pending && selected && selKind && (
        <div className="place plan-selected-form" data-testid="selected-shape" data-feature={String(selected.id)}>
          <strong className="wide">{t('editingShape')}：{String(selected.properties?.name || selected.id)}{selProblem && <span className="fail"> ⚠ {selProblem}</span>}</strong>
          <span className="wide segmented">
            <button className={mode === 'vertices' ? 'on' : ''} data-testid="mode-vertices" onClick={() => setMode('vertices')}>{t('editVertices')}</button>
            <button className={mode === 'move' ? 'on' : ''} data-testid="mode-move" onClick={() => setMode('move')}>{t('moveShape')}</button>
          </span>
          <span className="wide muted" data-testid="edit-hint">{t(mode === 'move' ? 'moveHint' : 'vertexHint')}</span>
          <PlanShapeFields value={propsOf(selected)} kinds={selKind === 'key-area' || selKind === 'building' ? ['key-area', 'building'] : [selKind]} t={t} lang={lang} onChange={update} />
          <span className="wide">
            <button data-testid="remove-vertex" disabled={!canRemoveVertex} title="Delete" onClick={removeVertex}>{t('removeVertex')}</button>{' '}
            <button data-testid="delete-selected" onClick={() => remove(String(selected.id))}>{t('deleteShape')}</button>{' '}
            <button data-testid="deselect" onClick={() => select(null)}>{t('deselect')}</button>
          </span>
        </div>
      )}
      {!drawing && !pending && !selected && <p className="muted" data-testid="select-hint">{t('selectShapeHint')}</p>}
      <PlanShapeList features={features} selectedId={selectedId} problems={problems} onSelect={select} onDelete={remove} t={t} lang={lang} />
      {/* kept in sight at the panel's foot: what is wrong, and saving */}
      <div className="plan-actions">
        {problems.size > 0 && !error && (
          <p className="warn" data-testid="plan-warning">
            {[...problems].map(([id, why]) => `⚠ 「${String(features.find((f) => String(f.id) === id)?.properties?.name || id)}」${why}`).join('；')}（{t('planProblemRefused')}）
          </p>
        )}
        {error && <p className="error" data-testid="plan-error">{error}</p>}
        {confirmLeave ? (
          <p className="warn" data-testid="confirm-leave">
            {t('unsavedChanges')}{' '}
            <button data-testid="discard-changes" onClick={leave}>{t('discardChanges')}</button>{' '}
            <button onClick={() => setConfirmLeave(false)}>{t('keepEditing')}</button>
          </p>
        ) : (
          <p>
            <button data-testid="save-plan" disabled={saving || gate.disabled || drawing !== null || pending !== null} title={gate.title} onClick={() => void save()}>{t('savePlan')}</button>{' '}
            <button data-testid="exit-edit" onClick={() => (plan.dirty ? setConfirmLeave(true) : leave())}>{t('exitEdit')}</button>
          </p>
        )}
      </div>
    </div>
  );
}
