/**
 * Health-rule conditions: `measurement.metric OP literal`, several joined with `&&`, all on the same
 * measurement (a rule is judged per reading, so per interface row for table groups).
 * OP is one of == != > >= < <=; a literal is a number, true/false, or "text" in double quotes.
 * Deliberately tiny: no code is ever evaluated from a profile.
 */
export type Op = '==' | '!=' | '>' | '>=' | '<' | '<=';
export type Literal = number | boolean | string;

export interface Condition {
  measurement: string;
  metric: string;
  op: Op;
  value: Literal;
}

export type ParseResult = { ok: true; measurement: string; conditions: Condition[] } | { ok: false; error: string };

const TERM = /^\s*([A-Za-z][A-Za-z0-9_-]*)\.([A-Za-z][A-Za-z0-9_.-]*)\s*(==|!=|>=|<=|>|<)\s*(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|true|false|"[^"\\]*")\s*$/;

export function parseExpression(src: string): ParseResult {
  const parts = src.split('&&');
  const conditions: Condition[] = [];
  for (const part of parts) {
    const m = TERM.exec(part);
    if (!m) {
      return { ok: false, error: `cannot read condition "${part.trim()}": expected measurement.metric OP value (OP: == != > >= < <=; value: number, true, false or "text")` };
    }
    const [, measurement, metric, op, raw] = m as unknown as [string, string, string, Op, string];
    let value: Literal;
    if (raw === 'true' || raw === 'false') value = raw === 'true';
    else if (raw.startsWith('"')) value = raw.slice(1, -1);
    else value = Number(raw);
    if (typeof value !== 'number' && op !== '==' && op !== '!=') return { ok: false, error: `"${part.trim()}": ${op} compares numbers only` };
    conditions.push({ measurement, metric, op, value });
  }
  const measurement = conditions[0]!.measurement;
  if (conditions.some((c) => c.measurement !== measurement)) return { ok: false, error: `all conditions of a rule must read the same measurement (found ${[...new Set(conditions.map((c) => c.measurement))].join(', ')})` };
  return { ok: true, measurement, conditions };
}

/** true/false when every metric is present; undefined when one is missing (the rule cannot be judged). */
export function conditionsHold(conditions: Condition[], metrics: Record<string, Literal>): boolean | undefined {
  let result = true;
  for (const c of conditions) {
    const v = metrics[c.metric];
    if (v === undefined) return undefined;
    let ok: boolean;
    switch (c.op) {
      case '==':
        ok = v === c.value;
        break;
      case '!=':
        ok = v !== c.value;
        break;
      case '>':
        ok = typeof v === 'number' && v > (c.value as number);
        break;
      case '>=':
        ok = typeof v === 'number' && v >= (c.value as number);
        break;
      case '<':
        ok = typeof v === 'number' && v < (c.value as number);
        break;
      case '<=':
        ok = typeof v === 'number' && v <= (c.value as number);
        break;
    }
    result &&= ok;
  }
  return result;
}
