/**
 * Policy packs: which rules a bureau applies, with which thresholds, citing which standard. One
 * versioned YAML file per standard (packs/*.yaml); a bureau selects one (which may extend others)
 * and overrides figures per county, school type, ownership or size.
 */
import { Type, type Static } from '@sinclair/typebox';

export const DENSITY_LEVELS = ['monitor', 'detect', 'observe', 'recognise', 'identify', 'inspect'] as const;
export type DensityLevel = (typeof DENSITY_LEVELS)[number];

const Text = Type.Object({ zh: Type.String({ minLength: 1 }), en: Type.String({ minLength: 1 }) }, { additionalProperties: false });

export const Source = Type.Object(
  {
    document: Type.String({ minLength: 1, description: 'title of the standard or planning document' }),
    clause: Type.Optional(Type.String({ description: 'article, item or table the figure comes from' })),
    seed: Type.Optional(Type.String({ description: 'file in shared/seeds the requirement was read from' })),
    note: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type Source = Static<typeof Source>;

/** Rule kinds the engine knows; `params` are checked per kind in rules.ts. */
export const RULE_KINDS = [
  'uplink-bandwidth',
  'uplink-utilisation',
  'ipv6-share',
  'uplink-ipv6',
  'display-per-classroom',
  'class-board-per-classroom',
  'ap-online-share',
  'key-area-coverage',
] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

export const Rule = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z][a-z0-9-]{1,63}$' }),
    kind: Type.Union(RULE_KINDS.map((k) => Type.Literal(k))),
    title: Text,
    source: Source,
    params: Type.Record(Type.String(), Type.Union([Type.Number(), Type.Boolean(), Type.String()])),
    /** false switches an inherited rule off */
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type Rule = Static<typeof Rule>;

export const KeyAreaType = Type.Object(
  {
    type: Type.String({ pattern: '^[a-z][a-z0-9-]{1,63}$' }),
    name: Text,
    /** 应 (required) or 宜 (recommended) in GB/T 29315 */
    obligation: Type.Union([Type.Literal('required'), Type.Literal('recommended')]),
    requiredLevel: Type.Union(DENSITY_LEVELS.map((l) => Type.Literal(l))),
    source: Source,
  },
  { additionalProperties: false },
);
export type KeyAreaType = Static<typeof KeyAreaType>;

export const OverrideMatch = Type.Object(
  {
    county: Type.Optional(Type.String({ pattern: '^[0-9]{6}$' })),
    schoolType: Type.Optional(Type.String()),
    ownership: Type.Optional(Type.Union([Type.Literal('public'), Type.Literal('private')])),
    studentsAtLeast: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const Override = Type.Object(
  {
    match: OverrideMatch,
    /** rule id → params replacing the rule's (merged key by key) */
    rules: Type.Record(Type.String(), Type.Record(Type.String(), Type.Union([Type.Number(), Type.Boolean(), Type.String()]))),
    source: Source,
  },
  { additionalProperties: false },
);
export type Override = Static<typeof Override>;

export const PolicyPack = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z][a-z0-9-]{1,63}$' }),
    version: Type.String({ pattern: '^[0-9]{4}(\\.[0-9]+)*$', description: 'year of the standard, then revisions of this pack' }),
    title: Text,
    extends: Type.Optional(Type.Array(Type.String(), { description: 'packs whose rules and key areas this one starts from' })),
    rules: Type.Optional(Type.Array(Rule)),
    keyAreaTypes: Type.Optional(Type.Array(KeyAreaType)),
    overrides: Type.Optional(Type.Array(Override, { description: 'applied in order; later ones win' })),
  },
  { additionalProperties: false },
);
export type PolicyPack = Static<typeof PolicyPack>;
