/**
 * Which device profiles the agent uses, loaded once at start:
 *   1. `profilesDir` from the agent config, if given;
 *   2. else the profiles built into the bundle (written to `<dataDir>/profiles-builtin/` so the
 *      loader reads them like any folder, and an administrator can see what the agent runs with);
 *   3. else the repository's `device-profiles/profiles`.
 * A broken profile file is logged (file:line: reason) and left out; the others load. When nothing
 * loads at all the agent still polls, with its built-in IF-MIB poller.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_PROFILES_DIR, formatProfileError, loadProfiles } from '../device-profiles/loader.ts';
import { ProfileRegistry } from '../device-profiles/registry.ts';
import { BUILTIN_PROFILES } from './builtin-profiles.ts';

export interface AgentProfiles {
  registry: ProfileRegistry;
  /** the folder they were read from */
  dir: string;
  source: 'config' | 'builtin' | 'repository' | 'none';
  errors: string[];
}

function writeBuiltin(dataDir: string, files: Readonly<Record<string, string>>): string {
  const dir = path.join(dataDir, 'profiles-builtin');
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [rel, text] of Object.entries(files)) {
    const clean = path.normalize(rel);
    if (clean.startsWith('..') || path.isAbsolute(clean)) continue;
    fs.mkdirSync(path.dirname(path.join(dir, clean)), { recursive: true });
    fs.writeFileSync(path.join(dir, clean), text);
  }
  return dir;
}

export function loadAgentProfiles(opts: { profilesDir?: string; dataDir: string }): AgentProfiles {
  let dir: string;
  let source: AgentProfiles['source'];
  try {
    if (opts.profilesDir !== undefined) [dir, source] = [opts.profilesDir, 'config'];
    else if (BUILTIN_PROFILES) [dir, source] = [writeBuiltin(opts.dataDir, BUILTIN_PROFILES), 'builtin'];
    else [dir, source] = [DEFAULT_PROFILES_DIR, 'repository'];
  } catch (err) {
    return { registry: new ProfileRegistry([]), dir: '', source: 'none', errors: [`cannot prepare the built-in profiles: ${(err as Error).message}`] };
  }
  try {
    const { registry, errors } = loadProfiles(dir);
    return { registry, dir, source, errors: errors.map(formatProfileError) };
  } catch (err) {
    return { registry: new ProfileRegistry([]), dir, source: 'none', errors: [`cannot read device profiles from ${dir}: ${(err as Error).message}`] };
  }
}
