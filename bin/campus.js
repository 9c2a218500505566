#!/usr/bin/env node
// The `campus` command. The sources are TypeScript run through tsx's loader (no build step); the
// edge agent additionally bundles to a single file for gateways (see docs/operations.md).
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
