/** A shape's properties in a form: what it is, a key area's GB/T 29315 type and level, a wall's thickness, its name. */
import type { Lang, MessageKey } from '../i18n/index';
import { DENSITY_LEVELS, PACK_KEY_AREA_TYPES, keyAreaTypeDef, type DensityLevel } from '../keyAreaTypes';
import { thicknessOf, type ShapeKind, type ShapeProps } from './PlanFeatures';

type T = (k: MessageKey) => string;

export const kindLabel = (k: ShapeKind, t: T): string => t(k === 'key-area' ? 'keyArea' : k === 'building' ? 'building' : k === 'wall' ? 'planWall' : 'planOutline');

/** The fields (label, control pairs for a `.place` grid); each change is one field's patch. */
export function PlanShapeFields({ value, kinds, onChange, t, lang }: {
  value: ShapeProps;
  /** the kinds it may be changed to; one: shown, not chosen */
  kinds: readonly ShapeKind[];
  onChange: (patch: Partial<ShapeProps>) => void;
  t: T;
  lang: Lang;
}) {
  const badThickness = value.kind === 'wall' && Number.isNaN(thicknessOf(value.thickness) ?? 0);
  return (
    <>
      <label htmlFor="sh-k">{t('shapeKind')}</label>
      {kinds.length > 1 ? (
        <select id="sh-k" data-testid="shape-kind" value={value.kind} onChange={(e) => onChange({ kind: e.target.value as ShapeKind })}>
          {kinds.map((k) => (
            <option key={k} value={k}>{kindLabel(k, t)}</option>
          ))}
        </select>
      ) : (
        <span id="sh-k" data-testid="shape-kind-fixed">{kindLabel(value.kind, t)}</span>
      )}
      {value.kind === 'key-area' && (
        <>
          <label htmlFor="sh-t">{t('keyAreaType')}</label>
          <select id="sh-t" data-testid="shape-type" value={value.type} onChange={(e) => onChange({ type: e.target.value, level: keyAreaTypeDef(e.target.value)?.requiredLevel ?? value.level })}>
            {PACK_KEY_AREA_TYPES.map((d) => (
              <option key={d.type} value={d.type}>{lang === 'en' ? d.en : d.zh}</option>
            ))}
          </select>
          <label htmlFor="sh-l">{t('required')}</label>
          <select id="sh-l" data-testid="shape-level" value={value.level} onChange={(e) => onChange({ level: e.target.value as DensityLevel })}>
            {DENSITY_LEVELS.map((l) => (
              <option key={l} value={l}>{t(`level.${l}` as MessageKey)}</option>
            ))}
          </select>
        </>
      )}
      {value.kind === 'wall' && (
        <>
          <label htmlFor="sh-w">{t('wallThickness')}</label>
          <input id="sh-w" data-testid="shape-thickness" type="number" min={0} max={10} step={0.1} value={value.thickness} aria-invalid={badThickness} onChange={(e) => onChange({ thickness: e.target.value })} />
          {badThickness && <span className="error wide" data-testid="thickness-error">{t('wallThicknessRange')}</span>}
        </>
      )}
      <label htmlFor="sh-n">{t('name')}</label>
      <input id="sh-n" data-testid="shape-name" maxLength={100} value={value.name} onChange={(e) => onChange({ name: e.target.value })} />
    </>
  );
}
