/**
 * Writes the published JSON Schema of a device profile: `npx tsx device-profiles/gen-schema.ts`.
 * A test checks that the committed profile.schema.json equals what this generates.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { profileJsonSchema } from './schema.ts';

export const SCHEMA_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'profile.schema.json');

export function schemaJsonText(): string {
  return JSON.stringify(profileJsonSchema(), null, 2) + '\n';
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  fs.writeFileSync(SCHEMA_FILE, schemaJsonText());
  console.log(`wrote ${SCHEMA_FILE}`);
}
