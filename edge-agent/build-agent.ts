/**
 * `npm run build:agent`: bundles the edge agent into one ESM file for a gateway (esbuild, node20,
 * every dependency inside) with the device profiles built in: edge-agent/builtin-profiles.ts is
 * replaced by the text of every `device-profiles/profiles/**\/*.yaml` (found by scanning the folder,
 * so a new profile file needs no change here). Usage: tsx edge-agent/build-agent.ts --outfile=<file>
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { DEFAULT_PROFILES_DIR, listProfileFiles } from '../device-profiles/loader.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const outfile = process.argv.find((a) => a.startsWith('--outfile='))?.slice('--outfile='.length);
if (!outfile) {
  process.stderr.write('usage: tsx edge-agent/build-agent.ts --outfile=<file>\n');
  process.exit(2);
}

const builtinProfiles: Plugin = {
  name: 'campus-builtin-profiles',
  setup(b) {
    const target = path.join(HERE, 'builtin-profiles.ts');
    b.onLoad({ filter: /builtin-profiles\.ts$/ }, (args) => {
      if (path.resolve(args.path) !== target) return undefined;
      const files: Record<string, string> = {};
      for (const rel of listProfileFiles(DEFAULT_PROFILES_DIR)) files[rel] = fs.readFileSync(path.join(DEFAULT_PROFILES_DIR, rel), 'utf8');
      return { contents: `export const BUILTIN_PROFILES = ${JSON.stringify(files)};\n`, loader: 'js', watchFiles: Object.keys(files).map((f) => path.join(DEFAULT_PROFILES_DIR, f)) };
    });
  },
};

await build({
  entryPoints: [path.join(HERE, 'cli.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  logLevel: 'warning',
  // net-snmp and other CommonJS dependencies call require() for Node built-ins
  banner: { js: "import { createRequire as __campusCreateRequire } from 'node:module'; const require = __campusCreateRequire(import.meta.url);" },
  outfile: path.resolve(outfile),
  plugins: [builtinProfiles],
});
