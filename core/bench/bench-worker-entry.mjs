// A worker thread of a parallel `dunesim bench`: tsx's loader is per thread, so the worker
// registers it before importing the TypeScript worker (as bin/dunesim.js does for the CLI).
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../../tsconfig.json', import.meta.url)) });
await import('./bench-worker.ts');
