#!/usr/bin/env node
// The CLI is TypeScript run through tsx's loader, so `npx dunesim` works right after `npm ci`
// without a build step.
import { register } from 'tsx/esm/api';

register();
await import('../core/cli/main.ts');
