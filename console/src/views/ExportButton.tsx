import { useState } from 'react';
import { downloadXlsx, type ExportTable } from '../export';
import type { T } from '../App';

/** "Export table" (to Excel): builds the table as shown when clicked, shows the server's refusal if any. */
export function ExportButton({ testId, t, make, disabled }: { testId: string; t: T; make: () => ExportTable | null; disabled?: boolean }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const run = async () => {
    const table = make();
    if (!table) return;
    setBusy(true);
    setError('');
    try {
      await downloadXlsx(table);
    } catch (err) {
      setError(`${t('exportFailed')}：${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button data-testid={testId} title={t('exportTableHint')} onClick={() => void run()} disabled={disabled || busy}>
        {busy ? t('exporting') : t('exportTable')}
      </button>
      {error && <span className="error" data-testid={`${testId}-error`}>{error}</span>}
    </>
  );
}
