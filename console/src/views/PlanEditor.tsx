import { useEffect, useRef, useState } from 'react';
import L from 'leaflet';
import { auth, put, schoolPath, type FeatureCollection, type Frame, type GeoFeature } from '../api';
import type { Lang, MessageKey } from '../i18n/index';
import { DENSITY_LEVELS, PACK_KEY_AREA_TYPES, keyAreaTypeDef, type DensityLevel } from '../keyAreaTypes';

type LatLng = [number, number];
interface Pending { ring: LatLng[]; kind: 'key-area' | 'building'; type: string; level: DensityLevel; name: string }

const DEFAULT_TYPE = PACK_KEY_AREA_TYPES[0]!;
/** Consecutive vertices closer than this (degrees, ~1 cm) are one: the two clicks of a double-click. */
const SAME = 1e-7;

/**
 * "编辑平面图": draws new key areas and buildings by clicking their vertices on the map, deletes
 * existing ones, and saves the whole campus with `PUT …/campus` (the server validates the geometry and
 * answers with the reason when it refuses). While editing, `onDraft` gives the plan as edited so far.
 */
export function PlanEditor({ map, t, lang, code, campus, anchor, onDraft, onSaved }: {
  map: L.Map;
  t: (k: MessageKey) => string;
  lang: Lang;
  code: string;
  campus: FeatureCollection | null;
  /** where a school without a plan is anchored */
  anchor: { lon: number; lat: number } | null;
  onDraft: (fc: FeatureCollection | null) => void;
  onSaved: (fc: FeatureCollection) => void;
}) {
  const [features, setFeatures] = useState<GeoFeature[] | null>(null);
  const [drawing, setDrawing] = useState<LatLng[] | null>(null);
  const [pending, setPending] = useState<Pending | null>(null);
  const [error, setError] = useState('');
  const [saved, setSaved] = useState(false);
  const [saving, setSaving] = useState(false);
  const drawingRef = useRef<LatLng[] | null>(null);

  const frame: Frame | null = campus?.frame ?? (anchor ? { kind: 'wgs84', anchor, rotationDeg: 0 } : null);
  const editing = features !== null;

  useEffect(() => {
    onDraft(features && frame ? { type: 'FeatureCollection', frame, features } : null);
  }, [features]);
  useEffect(() => () => onDraft(null), [onDraft]);

  const finish = () => {
    const ring = drawingRef.current;
    if (!ring || ring.length < 3) return;
    drawingRef.current = null;
    setDrawing(null);
    setPending({ ring, kind: 'key-area', type: DEFAULT_TYPE.type, level: DEFAULT_TYPE.requiredLevel, name: '' });
  };
  const finishRef = useRef(finish);
  useEffect(() => {
    finishRef.current = finish;
  });

  // drawing: each click a vertex, a double-click closes the polygon
  const isDrawing = drawing !== null;
  useEffect(() => {
    if (!isDrawing) return;
    const click = (e: L.LeafletMouseEvent) => {
      const cur = drawingRef.current ?? [];
      const p: LatLng = [Number(e.latlng.lat.toFixed(7)), Number(e.latlng.lng.toFixed(7))];
      const last = cur[cur.length - 1];
      if (last && Math.abs(last[0] - p[0]) < SAME && Math.abs(last[1] - p[1]) < SAME) return;
      drawingRef.current = [...cur, p];
      setDrawing(drawingRef.current);
    };
    const dbl = () => finishRef.current();
    const zoom = map.doubleClickZoom.enabled();
    map.doubleClickZoom.disable();
    map.on('click', click);
    map.on('dblclick', dbl);
    map.getContainer().style.cursor = 'crosshair';
    return () => {
      map.off('click', click);
      map.off('dblclick', dbl);
      if (zoom) map.doubleClickZoom.enable();
      map.getContainer().style.cursor = '';
    };
  }, [map, isDrawing]);

  // the polygon being drawn, and the one waiting for its kind and name
  useEffect(() => {
    const ring = drawing ?? pending?.ring;
    if (!ring?.length) return;
    const g = L.featureGroup().addTo(map);
    const renderer = L.svg();
    if (pending) L.polygon(ring, { renderer, color: '#7c3aed', weight: 2, dashArray: '4 3', fillOpacity: 0.2, interactive: false, className: 'drawing-shape' }).addTo(g);
    else L.polyline(ring, { renderer, color: '#7c3aed', weight: 2, dashArray: '4 3', interactive: false, className: 'drawing-line' }).addTo(g);
    for (const p of ring) L.circleMarker(p, { renderer, radius: 4, color: '#7c3aed', weight: 2, fillColor: '#fff', fillOpacity: 1, interactive: false, className: 'drawing-vertex' }).addTo(g);
    return () => void g.remove();
  }, [map, drawing, pending]);

  const start = () => {
    setFeatures((campus?.features ?? []).map((f) => ({ ...f, properties: f.properties ? { ...f.properties } : null })));
    setError('');
    setSaved(false);
  };
  const leave = () => {
    drawingRef.current = null;
    setDrawing(null);
    setPending(null);
    setFeatures(null);
    setError('');
  };
  const add = () => {
    if (!pending || !features) return;
    const def = keyAreaTypeDef(pending.type) ?? DEFAULT_TYPE;
    const ring = pending.ring.map(([lat, lon]) => [lon, lat]);
    const id = `drawn-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
    const name = pending.name.trim() || (pending.kind === 'building' ? t('building') : lang === 'en' ? def.en : def.zh);
    const properties: Record<string, unknown> =
      pending.kind === 'building'
        ? { kind: 'building', name }
        : // the pack's level applies unless another one was chosen
          { kind: 'key-area', name, keyAreaType: def.type, ...(pending.level !== def.requiredLevel ? { requiredLevel: pending.level } : {}) };
    setFeatures([...features, { type: 'Feature', id, properties, geometry: { type: 'Polygon', coordinates: [[...ring, ring[0]!]] } }]);
    setPending(null);
  };
  const save = async () => {
    if (!features || !frame) return;
    if (!auth.token) return setError(t('needToken'));
    setSaving(true);
    setError('');
    try {
      // levels the collector filled in from the policy stay the policy's
      const out = features.map((f) => {
        const { levelFromPolicy, requiredLevel, ...rest } = f.properties ?? {};
        return { ...f, properties: { ...rest, ...(levelFromPolicy || requiredLevel === undefined ? {} : { requiredLevel }) } };
      });
      const fc = await put<FeatureCollection>(`${schoolPath(code)}/campus`, { type: 'FeatureCollection', frame, features: out });
      leave();
      setSaved(true);
      onSaved(fc);
    } catch (err) {
      setError(`${t('planRefused')}：${(err as Error).message}`);
    } finally {
      setSaving(false);
    }
  };

  if (!frame) return null;
  if (!editing)
    return (
      <p>
        <button data-testid="edit-plan" onClick={start}>{t('editPlan')}</button>
        {saved && <span className="pass" data-testid="plan-saved"> {t('planSaved')}</span>}
      </p>
    );

  const shapes = features.filter((f) => f.properties?.kind === 'key-area' || f.properties?.kind === 'building');
  const typeName = (f: GeoFeature) => {
    const p = f.properties ?? {};
    if (p.kind === 'building') return t('building');
    const d = keyAreaTypeDef(p.keyAreaType);
    return d ? (lang === 'en' ? d.en : d.zh) : String(p.keyAreaType ?? '');
  };
  return (
    <div className="plan-editor" data-testid="plan-editor">
      <h2>{t('editPlan')}</h2>
      {error && <p className="error" data-testid="plan-error">{error}</p>}
      <p>
        {drawing ? (
          <>
            <span data-testid="draw-hint">{t('drawHint')}（{drawing.length} {t('vertices')}）</span>{' '}
            <button data-testid="finish-shape" disabled={drawing.length < 3} onClick={finish}>{t('finishShape')}</button>{' '}
            <button onClick={() => { drawingRef.current = null; setDrawing(null); }}>{t('cancel')}</button>
          </>
        ) : (
          !pending && <button data-testid="draw-shape" onClick={() => { drawingRef.current = []; setDrawing([]); setSaved(false); }}>{t('drawShape')}</button>
        )}
      </p>
      {pending && (
        <div className="place" data-testid="shape-form">
          <label htmlFor="sh-k">{t('shapeKind')}</label>
          <select id="sh-k" data-testid="shape-kind" value={pending.kind} onChange={(e) => setPending({ ...pending, kind: e.target.value as Pending['kind'] })}>
            <option value="key-area">{t('keyArea')}</option>
            <option value="building">{t('building')}</option>
          </select>
          {pending.kind === 'key-area' && (
            <>
              <label htmlFor="sh-t">{t('keyAreaType')}</label>
              <select id="sh-t" data-testid="shape-type" value={pending.type} onChange={(e) => setPending({ ...pending, type: e.target.value, level: keyAreaTypeDef(e.target.value)?.requiredLevel ?? pending.level })}>
                {PACK_KEY_AREA_TYPES.map((d) => (
                  <option key={d.type} value={d.type}>{lang === 'en' ? d.en : d.zh}</option>
                ))}
              </select>
              <label htmlFor="sh-l">{t('required')}</label>
              <select id="sh-l" data-testid="shape-level" value={pending.level} onChange={(e) => setPending({ ...pending, level: e.target.value as DensityLevel })}>
                {DENSITY_LEVELS.map((l) => (
                  <option key={l} value={l}>{t(`level.${l}` as MessageKey)}</option>
                ))}
              </select>
            </>
          )}
          <label htmlFor="sh-n">{t('name')}</label>
          <input id="sh-n" data-testid="shape-name" value={pending.name} onChange={(e) => setPending({ ...pending, name: e.target.value })} />
          <button data-testid="add-shape" onClick={add}>{t('addShape')}</button>
          <button onClick={() => setPending(null)}>{t('cancel')}</button>
        </div>
      )}
      <table data-testid="plan-shapes">
        <thead>
          <tr><th>{t('name')}</th><th>{t('shapeKind')}</th><th>{t('required')}</th><th></th></tr>
        </thead>
        <tbody>
          {shapes.map((f) => {
            const p = f.properties ?? {};
            const lvl = typeof p.requiredLevel === 'string' ? p.requiredLevel : p.kind === 'key-area' ? keyAreaTypeDef(p.keyAreaType)?.requiredLevel : undefined;
            return (
              <tr key={String(f.id)} data-feature={String(f.id)}>
                <td>{String(p.name ?? f.id)}</td>
                <td>{typeName(f)}</td>
                <td>{lvl ? t(`level.${lvl}` as MessageKey) : '—'}</td>
                <td><button data-action="delete-shape" style={{ whiteSpace: 'nowrap' }} onClick={() => setFeatures(features.filter((x) => x !== f))}>{t('deleteShape')}</button></td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p>
        <button data-testid="save-plan" disabled={saving || drawing !== null || pending !== null} onClick={() => void save()}>{t('savePlan')}</button>{' '}
        <button data-testid="exit-edit" onClick={leave}>{t('exitEdit')}</button>
      </p>
    </div>
  );
}
