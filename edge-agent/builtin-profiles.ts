/**
 * The device profiles built into the single-file agent bundle. Here (tsx, the full installation)
 * this is undefined and the agent reads `device-profiles/profiles` from the repository; the
 * `build:agent` script (edge-agent/build-agent.ts) replaces this module with every profile file's
 * text, keyed by its path relative to the profiles folder.
 */
export const BUILTIN_PROFILES: Readonly<Record<string, string>> | undefined = undefined;
