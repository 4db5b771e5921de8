#!/usr/bin/env node
// The CLI is TypeScript run through tsx's loader, so `npx dunesim` works right after `npm ci`
// without a build step. The project's tsconfig is named explicitly: tsx would otherwise look for
// one in the current directory, and dunesim is run from anywhere (exec's --root defaults to it).
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import('../core/cli/main.ts');
