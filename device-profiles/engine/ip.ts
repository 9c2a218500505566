/** IPv6 text from its eight 16-bit groups, in the canonical RFC 5952 form (WHATWG URL's serialiser does it). */
export function ipv6FromGroups(groups: readonly number[]): string {
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) throw new Error(`not eight 16-bit groups: ${groups.join(',')}`);
  return new URL(`http://[${groups.map((g) => g.toString(16)).join(':')}]/`).hostname.slice(1, -1);
}
