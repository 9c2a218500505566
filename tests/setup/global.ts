/**
 * Vitest global setup: starts the shared real servers once for the whole run (each on a free
 * loopback port with its own temporary data) and hands their URLs to the tests via `inject()`.
 * Filled in as the servers' start-up helpers land.
 */
export default async function setup(): Promise<() => Promise<void>> {
  return async () => {};
}
