import { useState } from 'react';
import { auth, postCsv, schoolPath, type ImportResult } from '../api';
import type { T } from '../App';
import type { Gate } from '../auth/permissions';
import { failureText } from '../auth/session';

/** CSV import of planned devices: POSTs the file as text/csv; shows the count, or every bad row (all or nothing). */
export function PlannedImport({ school, t, gate, onImported }: { school: string; t: T; gate: Gate; onImported: () => void }) {
  const [result, setResult] = useState<ImportResult | null>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const onFile = async (file: File | undefined, input: HTMLInputElement) => {
    if (!file) return;
    setResult(null);
    setError('');
    if (!auth.token) {
      setError(t('needToken'));
      input.value = '';
      return;
    }
    setBusy(true);
    try {
      const r = await postCsv(`${schoolPath(school)}/planned`, await file.text());
      setResult(r);
      if (!r.errors.length) onImported();
    } catch (err) {
      setError(failureText(t, err));
    } finally {
      setBusy(false);
      input.value = ''; // the same file again after fixing it
    }
  };
  return (
    <div className="planned-import" data-testid="planned-import">
      {/* a button in the console's language rather than the browser's own "Choose File" */}
      <label className={`button file-button edit-only${busy || gate.disabled ? ' busy' : ''}`} title={gate.title}>
        {t('importPlanned')}
        <input id="planned-csv" data-testid="planned-csv" type="file" accept=".csv,text/csv" disabled={busy || gate.disabled} onChange={(e) => void onFile(e.target.files?.[0], e.target)} />
      </label>
      <br />
      <small>{t('importPlannedHint')}</small>
      {error && <p className="error">{error}</p>}
      {result && !result.errors.length && (
        <p className="pass" data-testid="import-ok" data-imported={result.imported}>{t('imported')}：{result.imported}</p>
      )}
      {result && result.errors.length > 0 && (
        <>
          <p className="fail" data-testid="import-rejected">{t('importRejected')}</p>
          <table data-testid="import-errors">
            <thead>
              <tr><th>{t('line')}</th><th>{t('column')}</th><th>{t('message')}</th></tr>
            </thead>
            <tbody>
              {result.errors.map((e, i) => (
                <tr key={i} data-line={e.line} data-column={e.column ?? ''}>
                  <td>{e.line}</td>
                  <td>{e.column ?? '—'}</td>
                  <td>{e.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}
