/**
 * The key-area types of the GB/T 29315-2022 policy pack (collector/compliance/policy/packs/gbt-29315-2022.yaml)
 * with their default required density level, for drawing key areas in the console. The pack's type names
 * are what is sent; the collector answers with its geometry model's names, mapped back by `alias`.
 */
export type DensityLevel = 'monitor' | 'detect' | 'observe' | 'recognise' | 'identify' | 'inspect';
export const DENSITY_LEVELS: readonly DensityLevel[] = ['monitor', 'detect', 'observe', 'recognise', 'identify', 'inspect'];
export interface KeyAreaTypeDef { type: string; zh: string; en: string; requiredLevel: DensityLevel; alias?: string }
export const PACK_KEY_AREA_TYPES: readonly KeyAreaTypeDef[] = [
  { type: 'gate-outside', zh: '学校大门外', en: 'Outside the school gate', requiredLevel: 'recognise' },
  { type: 'main-entrance', zh: '主出入口', en: 'Main entrance', requiredLevel: 'identify' },
  { type: 'gatehouse', zh: '门卫室', en: 'Gatehouse', requiredLevel: 'observe' },
  { type: 'playground', zh: '室外人员集中活动区域（操场、运动场）', en: 'Outdoor gathering areas (playground, sports field)', requiredLevel: 'observe', alias: 'outdoor-gathering' },
  { type: 'teaching-corridor', zh: '教学区域主要通道和出入口', en: 'Main corridors and entrances of teaching buildings', requiredLevel: 'recognise' },
  { type: 'dormitory-entrance', zh: '学生宿舍楼主要出入口', en: 'Main entrances of dormitories', requiredLevel: 'recognise' },
  { type: 'kindergarten-room', zh: '幼儿园活动室、寝室', en: 'Kindergarten activity rooms and bedrooms', requiredLevel: 'observe' },
  { type: 'kitchen', zh: '食堂操作间、出入口', en: 'Kitchen work area and entrances', requiredLevel: 'observe' },
  { type: 'hazardous-store', zh: '危险品储存室、实验室', en: 'Hazardous-goods stores and laboratories', requiredLevel: 'recognise', alias: 'hazardous-lab' },
  { type: 'perimeter', zh: '周界', en: 'Perimeter', requiredLevel: 'detect' },
  { type: 'food-service', zh: '备餐间、留样间、库房、就餐区', en: 'Serving, sample-retention, storage and dining rooms', requiredLevel: 'observe', alias: 'canteen-rooms' },
  { type: 'finance-room', zh: '财务室', en: 'Finance room', requiredLevel: 'recognise' },
  { type: 'archive-room', zh: '档案室', en: 'Archive room', requiredLevel: 'recognise' },
  { type: 'security-control-room', zh: '安防监控中心', en: 'Security control room', requiredLevel: 'observe' },
  { type: 'library', zh: '图书馆', en: 'Library', requiredLevel: 'observe' },
  { type: 'gymnasium', zh: '体育馆', en: 'Gymnasium', requiredLevel: 'observe' },
];
/** A type as the pack or the collector spells it. */
export const keyAreaTypeDef = (t: unknown): KeyAreaTypeDef | undefined => PACK_KEY_AREA_TYPES.find((d) => d.type === t || d.alias === t);
