/** Passwords the console makes up: a reset by someone with permission 'users', read off the screen once. */

// no look-alikes (0/O, 1/l/I): a generated password is read off the screen and typed
const CLASSES = ['ABCDEFGHJKLMNPQRSTUVWXYZ', 'abcdefghijkmnpqrstuvwxyz', '23456789', '-_.!@#%+='];
/** 16 random characters with every class present: the collector's rule (8+, 3 of 4 classes) with room to spare. */
export function generatePassword(length = 16, random: (n: number) => number = randomBelow): string {
  const all = CLASSES.join('');
  const chars = CLASSES.map((set) => set[random(set.length)]!);
  while (chars.length < length) chars.push(all[random(all.length)]!);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = random(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}
/** A uniform random integer below n from the browser's CSPRNG. */
function randomBelow(n: number): number {
  // rejection sampling: no bias towards the first characters of a set
  const limit = Math.floor(0x1_0000_0000 / n) * n;
  const buf = new Uint32Array(1);
  do globalThis.crypto.getRandomValues(buf);
  while (buf[0]! >= limit);
  return buf[0]! % n;
}
