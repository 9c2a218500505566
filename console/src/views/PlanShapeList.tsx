/** The plan's shapes as a table: a row selects its shape, flags what the server would refuse, deletes. */
import type { GeoFeature } from '../api';
import type { Lang, MessageKey } from '../i18n/index';
import { keyAreaTypeDef } from '../keyAreaTypes';
import { KIND_ORDER, kindOf } from './PlanFeatures';
import { kindLabel } from './PlanShapeForm';

type T = (k: MessageKey) => string;

export function PlanShapeList({ features, selectedId, problems, onSelect, onDelete, t, lang }: {
  features: GeoFeature[];
  selectedId: string | null;
  /** shape id → what is wrong with it */
  problems: Map<string, string>;
  onSelect: (id: string) => void;
  onDelete: (id: string) => void;
  t: T;
  lang: Lang;
}) {
  const shapes = features.filter((f) => kindOf(f)).sort((a, b) => KIND_ORDER.indexOf(kindOf(a)!) - KIND_ORDER.indexOf(kindOf(b)!));
  const typeName = (f: GeoFeature) => {
    const p = f.properties ?? {};
    if (kindOf(f) !== 'key-area') return kindLabel(kindOf(f)!, t);
    const d = keyAreaTypeDef(p.keyAreaType);
    return d ? (lang === 'en' ? d.en : d.zh) : String(p.keyAreaType ?? '');
  };
  return (
    <table data-testid="plan-shapes" className="plan-shapes">
      <thead>
        <tr><th>{t('name')}</th><th>{t('shapeKind')}</th><th>{t('required')}</th><th></th></tr>
      </thead>
      <tbody>
        {shapes.map((f) => {
          const id = String(f.id), p = f.properties ?? {}, problem = problems.get(id);
          const lvl = kindOf(f) === 'key-area' ? (typeof p.requiredLevel === 'string' ? p.requiredLevel : keyAreaTypeDef(p.keyAreaType)?.requiredLevel) : undefined;
          const cls = ['clickable', id === selectedId ? 'selected' : '', problem ? 'invalid' : ''].filter(Boolean).join(' ');
          return (
            <tr key={id} data-feature={id} className={cls} title={problem ?? ''} onClick={() => onSelect(id)}>
              <td>{problem && <span className="fail" aria-label={problem}>⚠ </span>}{String(p.name || id)}</td>
              <td>{typeName(f)}</td>
              <td>{lvl ? t(`level.${lvl}` as MessageKey) : '—'}</td>
              <td>
                <button data-action="delete-shape" style={{ whiteSpace: 'nowrap' }} onClick={(e) => { e.stopPropagation(); onDelete(id); }}>{t('deleteShape')}</button>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
