/**
 * Password complexity for people's accounts (等保 2.0 identification: 口令复杂度): at least 8
 * characters from at least 3 of 4 classes — upper case, lower case, digits, anything else — and not
 * containing the user name. Agent and service passwords are generated and not checked here.
 */
import { randomInt } from 'node:crypto';

export const MIN_PASSWORD_LENGTH = 8;
/** scrypt takes any length; this only keeps a pasted novel out. */
export const MAX_PASSWORD_LENGTH = 128;

const CLASSES: Array<[RegExp, string]> = [
  [/[A-Z]/, 'upper-case letters'],
  [/[a-z]/, 'lower-case letters'],
  [/[0-9]/, 'digits'],
  [/[^A-Za-z0-9]/, 'other characters'],
];

export const PASSWORD_RULE = '密码至少 8 个字符，且须包含大写字母、小写字母、数字、其他符号中的至少三类，不得包含用户名 (a password needs at least 8 characters from at least 3 of: upper-case letters, lower-case letters, digits, other characters, and must not contain the user name)';

/** Why a password is refused (Chinese, then English), or null when it is good enough. */
export function passwordProblem(password: string, username?: string): string | null {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH) return `密码太短。${PASSWORD_RULE}`;
  if (password.length > MAX_PASSWORD_LENGTH) return `密码太长，最多 ${MAX_PASSWORD_LENGTH} 个字符 (a password has at most ${MAX_PASSWORD_LENGTH} characters)`;
  const classes = CLASSES.filter(([re]) => re.test(password)).length;
  if (classes < 3) return `密码字符种类不足。${PASSWORD_RULE}`;
  if (username && username.length >= 3 && password.toLowerCase().includes(username.toLowerCase())) return `密码不得包含用户名。${PASSWORD_RULE}`;
  return null;
}

// No look-alikes (0/O, 1/l/I) since a generated password is read off a screen and typed.
const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const LOWER = 'abcdefghijkmnpqrstuvwxyz';
const DIGITS = '23456789';
const OTHER = '-_.!@#%+=';
const ALL = UPPER + LOWER + DIGITS + OTHER;

/** 16 random characters with every class present (about 95 bits), shown once to whoever creates the user. */
export function generateUserPassword(length = 16): string {
  const chars = [UPPER, LOWER, DIGITS, OTHER].map((set) => set[randomInt(set.length)]!);
  while (chars.length < length) chars.push(ALL[randomInt(ALL.length)]!);
  // Fisher–Yates, so the guaranteed characters are not always first
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}
