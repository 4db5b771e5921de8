/**
 * Calibrates the Linux kernel-path constants of a cost profile on the Linux columns of Dune
 * Tables 2 and 3 (the fidelity protocol, docs/architecture.md §2: Linux paths may be fitted to Linux figures;
 * nothing here touches a hardware primitive or a Dune figure). Each constant is paired with the
 * row it is solved from; rows are measured on the model, and a Newton step with a finite-
 * difference Jacobian moves the constants until the rows match. Prints the constants as JSON.
 *
 *   npx tsx scripts/calibrate-linux.ts [profile]
 */
import 'reflect-metadata';
import { loadProfile, ProfileFile } from '../core/vtx/cost-model.js';
import { appelLinux, getpid, pageFault, ptraceLinux } from '../core/dune/bench/dune-micro-workloads.js';

const base = loadProfile(process.argv[2] ?? 'dune-e3-1230v2');
const PARAMS = ['syscallPath', 'pageAllocPath', 'signalDeliveryPath', 'ptraceStopPath', 'mprotectBase', 'mprotectPath'] as const;
const TARGETS = [138, 2687, 2821, 13592, 701413, 684909];
const ROWS = ['getpid', 'page-fault', 'trap', 'ptrace-sysemu', 'appel1', 'appel2'];

function withValues(v: number[]): ProfileFile {
  const p: ProfileFile = JSON.parse(JSON.stringify(base));
  PARAMS.forEach((k, i) => (p.constants[k].value = v[i]!));
  return p;
}

function measure(v: number[]): number[] {
  const p = withValues(v);
  const a = appelLinux(p, 10);
  return [getpid(p, false, 2000).cycles, pageFault(p, false, 500).cycles, a.trap.cycles, ptraceLinux(p, true, 300).cycles, a.appel1.cycles, a.appel2.cycles];
}

function solve(J: number[][], r: number[]): number[] {
  const n = r.length;
  const A = J.map((row, i) => [...row, r[i]!]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let i = c + 1; i < n; i++) if (Math.abs(A[i]![c]!) > Math.abs(A[piv]![c]!)) piv = i;
    [A[c], A[piv]] = [A[piv]!, A[c]!];
    for (let i = 0; i < n; i++) {
      if (i === c) continue;
      const f = A[i]![c]! / A[c]![c]!;
      for (let j = c; j <= n; j++) A[i]![j]! -= f * A[c]![j]!;
    }
  }
  return A.map((row, i) => row[n]! / row[i]!);
}

let v = PARAMS.map((k) => base.constants[k].value);
for (let iter = 0; iter < 4; iter++) {
  const f = measure(v);
  const err = f.map((x, i) => x - TARGETS[i]!);
  console.error(`iteration ${iter}: ` + ROWS.map((r, i) => `${r}=${f[i]!.toFixed(0)} (${((100 * err[i]!) / TARGETS[i]!).toFixed(2)}%)`).join(' '));
  if (err.every((e, i) => Math.abs(e / TARGETS[i]!) < 0.001)) break;
  const J: number[][] = TARGETS.map(() => PARAMS.map(() => 0));
  PARAMS.forEach((_, j) => {
    const h = Math.max(10, v[j]! * 0.1);
    const vj = [...v];
    vj[j]! += h;
    const fj = measure(vj);
    fj.forEach((x, i) => (J[i]![j] = (x - f[i]!) / h));
  });
  const step = solve(J, err);
  v = v.map((x, i) => Math.max(0, Math.round((x - step[i]!) * 10) / 10));
}
console.log(JSON.stringify(Object.fromEntries(PARAMS.map((k, i) => [k, v[i]])), null, 2));
