import 'reflect-metadata';
import { parentPort, workerData } from 'node:worker_threads';
import { createContainer } from '../framework/create-container.js';
import { BenchSuite } from './bench-suite.js';
import { TraceCapture } from '../trace-capture.js';

/** What the parent sends a worker: one suite to run. */
export interface BenchWorkerJob {
  suite: string;
  profile: string;
  personalManifest?: string;
  /** `--trace DIR` and `--trace-row LABEL` of the command. */
  traceDir?: string;
  traceRow?: string;
}

/** What a worker sends back: progress steps, then the result or the error. */
export type BenchWorkerMessage =
  | { type: 'progress'; label: string }
  | { type: 'done'; result: unknown; traces: string[] }
  | { type: 'error'; message: string };

/**
 * Runs one suite in its own container, as the CLI would: a worker has its own machines, its own
 * stats and its own copy of every module, so suites in parallel share nothing.
 */
async function runJob(job: BenchWorkerJob): Promise<void> {
  const port = parentPort!;
  try {
    const { container } = await createContainer({ personalManifest: job.personalManifest });
    const suite = container.getAll<BenchSuite>(BenchSuite).find((s) => s.id === job.suite);
    if (suite === undefined) throw new Error(`bench suite '${job.suite}' is not installed in the worker`);
    const capture = job.traceDir === undefined ? undefined : new TraceCapture(job.traceDir, job.suite, job.traceRow);
    capture?.start();
    const result = await suite.run({
      profile: job.profile,
      progress: (label) => {
        capture?.step(label);
        port.postMessage({ type: 'progress', label } satisfies BenchWorkerMessage);
      },
    });
    capture?.stop();
    port.postMessage({ type: 'done', result, traces: capture?.written ?? [] } satisfies BenchWorkerMessage);
  } catch (e) {
    port.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) } satisfies BenchWorkerMessage);
  }
}

await runJob(workerData as BenchWorkerJob);
