import { useEffect, useState } from 'react';
import L from 'leaflet';
import { ApiFailure, auth, del, floorPlanPath, maybe, put, putFile, type FeatureCollection, type FloorPlanMeta } from '../api';
import type { T } from '../App';
import type { MessageKey } from '../i18n/index';
import { date, num } from '../i18n/index';
import { FloorPlanLayer, type ImageFailure } from './FloorPlanLayer';
import type { Gate } from '../auth/permissions';
import { bottomRight, defaultPlacement, measure, rounded, sameAspect, toMetres, withRotation, withWidth, type Around, type Corners } from './FloorPlanPlacement';

const MAX_BYTES = 20 * 1024 * 1024;
const OPACITY_KEY = 'campus.floorplanOpacity';
const storedOpacity = () => {
  const v = Number(localStorage.getItem(OPACITY_KEY));
  return v >= 0.1 && v <= 1 ? v : 0.7;
};
const sizeOf = (bytes: number) => (bytes >= 1024 * 1024 ? `${num(bytes / 1024 / 1024)} MB` : `${num(bytes / 1024)} KB`);
const latLngsOf = (c: Corners) => [c.topLeft, c.topRight, bottomRight(c), c.bottomLeft].map((p) => L.latLng(p.lat, p.lon));

/** The reason a refusal gives, in the console's language, with the collector's own words beside it. */
function reasonOf(err: unknown, t: T): { text: string; detail?: string } {
  if (!(err instanceof ApiFailure)) return { text: (err as Error).message };
  if (err.status === 401) return { text: t('expiredRetry') };
  const problem = (err.details as { problem?: string } | undefined)?.problem;
  const key = (err.code === 'INVALID_GEOREF' && problem ? `fp.georef.${problem}` : `fp.err.${err.code}`) as MessageKey;
  const text = t(key);
  return text === key ? { text: err.message } : { text, detail: err.message };
}

/**
 * "平面图底图": the school's floor-plan image (a scanned or exported 总平面图) as the map's backdrop —
 * import (the collector checks the file and says why it refuses one), georeference by dragging
 * corner handles or typing width and rotation (配准, 保存配准 / 取消), opacity, delete. A fresh
 * image is placed north up over the campus plan (else the school), keeping its aspect ratio; a
 * replacement with the same aspect ratio starts from the old corners.
 */
export function FloorPlan({ map, t, code, gate, school, campus }: {
  map: L.Map;
  t: T;
  code: string;
  /** whether the one signed in may change this school's floor plan */
  gate: Gate;
  school: { lon: number; lat: number } | null;
  campus: FeatureCollection | null;
}) {
  const [meta, setMeta] = useState<FloorPlanMeta | null | undefined>(undefined);
  const [draft, setDraft] = useState<Corners | null>(null);
  const [opacity, setOpacity] = useState(storedOpacity);
  const [error, setError] = useState<{ text: string; detail?: string } | null>(null);
  const [notice, setNotice] = useState<'fp.saved' | 'fp.deleted' | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [broken, setBroken] = useState<ImageFailure | null>(null);
  const [typing, setTyping] = useState<{ field: 'width' | 'rotation'; text: string } | null>(null);

  useEffect(() => {
    let alive = true;
    maybe<FloorPlanMeta>(`${floorPlanPath(code)}/meta`)
      .then((m) => alive && setMeta(m))
      .catch((err: unknown) => {
        if (!alive) return;
        setMeta(null);
        setError(reasonOf(err, t));
      });
    return () => {
      alive = false;
    };
  }, [code]);
  useEffect(() => localStorage.setItem(OPACITY_KEY, String(opacity)), [opacity]);

  /** Where a fresh image goes: over the campus plan's extent, else centred on the school, else the map's centre. */
  const around = (): Around => {
    const b = campus?.features.length ? L.geoJSON(campus as unknown as GeoJSON.GeoJsonObject).getBounds() : null;
    if (b?.isValid()) {
      const c = b.getCenter(), centre = { lon: c.lng, lat: c.lat };
      const ne = toMetres(centre, { lon: b.getEast(), lat: b.getNorth() });
      return { centre, extentM: { e: 2 * ne.e, n: 2 * ne.n } };
    }
    if (school) return { centre: school };
    const c = map.getCenter();
    return { centre: { lon: c.lng, lat: c.lat } };
  };
  const showAll = (c: Corners) => {
    const b = L.latLngBounds(latLngsOf(c));
    if (!map.getBounds().contains(b)) map.fitBounds(b, { padding: [30, 30] });
  };

  const upload = async (file: File | undefined, input: HTMLInputElement) => {
    input.value = ''; // the same file again after fixing it
    if (!file) return;
    setError(null);
    setNotice(null);
    if (!auth.token) return setError({ text: t('needToken') });
    if (file.size > MAX_BYTES) return setError({ text: `${t('fp.refused')}：${t('fp.err.FLOORPLAN_TOO_LARGE')}` });
    setBusy(true);
    try {
      const before = meta;
      const m = await putFile<FloorPlanMeta>(floorPlanPath(code), file);
      setMeta(m);
      setBroken(null);
      // an upload clears the placement: start from the old one when the drawing has the same shape
      const start = before?.georef && sameAspect(before, m) ? before.georef : defaultPlacement(m, around());
      setDraft(start);
      showAll(start);
    } catch (err) {
      const r = reasonOf(err, t);
      setError({ ...r, text: `${t('fp.refused')}：${r.text}` });
    } finally {
      setBusy(false);
    }
  };
  const startGeoref = () => {
    if (!meta) return;
    const start = meta.georef ?? defaultPlacement(meta, around());
    setDraft(start);
    setError(null);
    setNotice(null);
    showAll(start);
  };
  const save = async () => {
    if (!draft) return;
    if (!auth.token) return setError({ text: t('needToken') });
    setBusy(true);
    setError(null);
    try {
      setMeta(await put<FloorPlanMeta>(`${floorPlanPath(code)}/georef`, rounded(draft)));
      setDraft(null);
      setNotice('fp.saved');
    } catch (err) {
      const r = reasonOf(err, t);
      setError({ ...r, text: `${t('fp.err.INVALID_GEOREF')}：${r.text}` });
    } finally {
      setBusy(false);
    }
  };
  const remove = async () => {
    if (!auth.token) return setError({ text: t('needToken') });
    setBusy(true);
    setError(null);
    try {
      await del(floorPlanPath(code));
      setMeta(null);
      setDraft(null);
      setBroken(null);
      setNotice('fp.deleted');
    } catch (err) {
      setError(reasonOf(err, t));
    } finally {
      setBusy(false);
      setConfirmDelete(false);
    }
  };
  const commitTyping = () => {
    if (!typing || !draft) return setTyping(null);
    const v = Number(typing.text);
    if (typing.text.trim() !== '' && Number.isFinite(v)) {
      if (typing.field === 'width' && v > 0) setDraft(withWidth(draft, v));
      if (typing.field === 'rotation') setDraft(withRotation(draft, ((((v + 180) % 360) + 360) % 360) - 180));
    }
    setTyping(null);
  };

  const corners = draft ?? meta?.georef ?? null;
  const state = meta === undefined ? 'loading' : meta === null ? 'none' : draft ? 'editing' : meta.georef ? 'placed' : 'unplaced';
  const m = draft ? measure(draft) : null;
  const fieldValue = (field: 'width' | 'rotation', v: number) => (typing?.field === field ? typing.text : String(Math.round(v * 10) / 10));
  // a button in the console's language rather than the browser's own "Choose File"
  const fileInput = (
    <label className={`button file-button${busy || gate.disabled ? ' busy' : ''}`} data-testid="floorplan-import" title={gate.title}>
      {t(meta ? 'fp.replace' : 'fp.import')}
      <input data-testid="floorplan-file" type="file" accept=".png,.jpg,.jpeg,.webp,image/png,image/jpeg,image/webp" disabled={busy || gate.disabled} onChange={(e) => void upload(e.target.files?.[0], e.target)} />
    </label>
  );

  return (
    <div className="floorplan" data-testid="floorplan" data-state={state}>
      <h2>{t('fp.title')}</h2>
      {meta && corners && (
        <FloorPlanLayer
          map={map}
          url={`${floorPlanPath(code)}?v=${meta.sha256}`}
          size={meta}
          corners={corners}
          opacity={opacity}
          editing={draft !== null}
          onChange={setDraft}
          onImageError={setBroken}
        />
      )}
      {error && (
        <p className="error" data-testid="floorplan-error">
          {error.text}
          {error.detail && <small className="muted"> （{error.detail}）</small>}
        </p>
      )}
      {notice && <p className="pass" data-testid="floorplan-notice">{t(notice)}</p>}
      {broken === 'load' && <p className="error" data-testid="floorplan-broken">{t('fp.loadFailed')}</p>}
      {broken === 'decode' && <p className="error" data-testid="floorplan-undecodable">{t('fp.undecodable')}</p>}
      {meta && (
        <p className="muted" data-testid="floorplan-meta">
          {t('fp.size')} {meta.width} × {meta.height} {t('fp.pixels')} · {sizeOf(meta.bytes)} · {t('fp.uploaded')} {date(meta.uploadedAt)} {meta.uploadedBy}
          {meta.georef && meta.georefAt && <> · {t('fp.placed')} {date(meta.georefAt)} {meta.georefBy}</>}
        </p>
      )}
      {state === 'unplaced' && <p className="unknown">{t('fp.notPlaced')}</p>}
      {draft && m ? (
        <div className="place edit-only" data-testid="floorplan-georef">
          <span className="wide">{t('fp.georefHint')}</span>
          <label htmlFor="fp-w">{t('fp.width')}</label>
          <span>
            <input id="fp-w" data-testid="floorplan-width" type="number" min={5} max={5000} step="any" value={fieldValue('width', m.widthM)}
              onChange={(e) => setTyping({ field: 'width', text: e.target.value })} onBlur={commitTyping} onKeyDown={(e) => e.key === 'Enter' && commitTyping()} />
            {' '}× {num(m.heightM)} m
          </span>
          <label htmlFor="fp-r">{t('fp.rotation')}</label>
          <input id="fp-r" data-testid="floorplan-rotation" type="number" min={-180} max={180} step="any" value={fieldValue('rotation', m.rotationDeg)}
            onChange={(e) => setTyping({ field: 'rotation', text: e.target.value })} onBlur={commitTyping} onKeyDown={(e) => e.key === 'Enter' && commitTyping()} />
          <label htmlFor="fp-o">{t('fp.opacity')}</label>
          <input id="fp-o" data-testid="floorplan-opacity" type="range" min={0.1} max={1} step={0.05} value={opacity} onChange={(e) => setOpacity(Number(e.target.value))} />
          <span className="wide">
            <button data-testid="floorplan-save" disabled={busy || gate.disabled} title={gate.title} onClick={() => void save()}>{t('fp.saveGeoref')}</button>{' '}
            <button data-testid="floorplan-cancel" disabled={busy} onClick={() => { setDraft(null); setError(null); }}>{t('cancel')}</button>
          </span>
        </div>
      ) : (
        <>
          {meta && (
            <p className="edit-only">
              {!gate.hidden && <button data-testid="floorplan-georef-start" disabled={busy || gate.disabled} title={gate.title} onClick={startGeoref}>{t('fp.georef')}</button>}{' '}
              {meta.georef && (
                <label>
                  {t('fp.opacity')} <input data-testid="floorplan-opacity" type="range" min={0.1} max={1} step={0.05} value={opacity} onChange={(e) => setOpacity(Number(e.target.value))} style={{ verticalAlign: 'middle', width: '7em' }} />
                </label>
              )}
            </p>
          )}
          {!gate.hidden && (
            <p className="edit-only">
              {fileInput}
              <br />
              <small className="muted">{busy ? t('fp.uploading') : t('fp.importHint')}</small>
            </p>
          )}
          {meta && !gate.hidden && (
            <p className="edit-only">
              {confirmDelete ? (
                <>
                  {t('fp.confirmDelete')}{' '}
                  <button data-testid="floorplan-delete-confirm" disabled={busy} onClick={() => void remove()}>{t('confirm')}</button>{' '}
                  <button onClick={() => setConfirmDelete(false)}>{t('cancel')}</button>
                </>
              ) : (
                <button data-testid="floorplan-delete" disabled={busy || gate.disabled} title={gate.title} onClick={() => setConfirmDelete(true)}>{t('fp.delete')}</button>
              )}
            </p>
          )}
        </>
      )}
    </div>
  );
}
