import { oneLine, readInputFile } from '../../core/framework/read-input-file.js';
import { posix } from 'node:path';
import { injectable } from 'inversify';
import { ENOSYS, EPERM, SYSCALL_NAMES } from '../../core/linux/linux-abi.js';
import { CLONE_FLAG_NAMES, CLONE_THREAD_FLAGS, CLONE_THREAD_REQUIRED, formatCloneFlags } from './clone-flags.js';
import { PolicyError } from './policy-error.js';
import { FileAccess, FileRule, NULL_POLICY, NetworkRule, NetworkRules, SandboxLimits, SandboxPolicy } from './sandbox-policy.js';
import { SYSCALL_SPECS, specNamed } from './syscall-specs.js';

const TOP_KEYS = ['name', 'unknownSyscalls', 'syscalls', 'cloneFlags', 'files', 'network', 'limits'];
const ACCESS: Record<string, FileAccess> = { 'read-only': 'read-only', ro: 'read-only', 'read-write': 'read-write', rw: 'read-write', none: 'none' };
/** Seconds of real time a limit may give: up to a year (a longer one is a mistake, not a limit). */
const MAX_SECONDS = 365 * 24 * 3600;
const LIMIT_KEYS: Record<keyof SandboxLimits, { min: number; max?: number; whole: boolean; what: string }> = {
  memory: { min: 1, whole: true, what: 'a positive whole number of bytes' },
  instructions: { min: 1, whole: true, what: 'a positive whole number of instructions' },
  cycles: { min: 1, whole: true, what: 'a positive whole number of cycles' },
  openFiles: { min: 0, whole: true, what: 'a whole number of descriptors (0 or more)' },
  wallSeconds: { min: 0.001, max: MAX_SECONDS, whole: false, what: `a number of seconds from 0.001 to ${MAX_SECONDS}` },
  idleSeconds: { min: 0.001, max: MAX_SECONDS, whole: false, what: `a number of seconds from 0.001 to ${MAX_SECONDS}` },
};
const NR_BY_NAME = new Map(Object.entries(SYSCALL_NAMES).map(([nr, name]) => [name, Number(nr)]));

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const show = (x: unknown): string => JSON.stringify(x) ?? String(x);

/**
 * Reads sandbox policies (POLICY.md): JSON files checked field by field, so that a broken one is
 * refused with a message naming the field rather than half-applied. Unknown keys are refused too
 * — a misspelt "fiels" would otherwise silently mean "no file rules".
 */
@injectable()
export class PolicyLoader {
  /** The policy in `file`; the null policy without one. */
  load(file: string | undefined): SandboxPolicy {
    if (file === undefined) return NULL_POLICY;
    let text: string;
    try {
      text = readInputFile(file); // never blocks on a FIFO
    } catch (e) {
      throw new PolicyError(file, '', `cannot be read: ${(e as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new PolicyError(file, '', `is not JSON: ${oneLine((e as Error).message)}`);
    }
    return this.parse(json, file);
  }

  /** A policy from parsed JSON; `source` names it in messages. `null` and `{}` are the null policy. */
  parse(json: unknown, source: string): SandboxPolicy {
    if (json === null) return { ...NULL_POLICY, source };
    if (!isObject(json)) throw new PolicyError(source, '', `must be a JSON object (or null for the null policy), got ${show(json)}`);
    for (const key of Object.keys(json)) {
      if (!TOP_KEYS.includes(key)) throw new PolicyError(source, key, `unknown field; a policy has ${TOP_KEYS.join(', ')}`);
    }
    const name = json['name'] ?? 'unnamed';
    if (typeof name !== 'string' || name.length === 0) throw new PolicyError(source, 'name', `must be a non-empty string, got ${show(name)}`);
    return {
      name,
      source,
      unknownErrno: this.unknownErrno(json['unknownSyscalls'], source),
      ...this.syscalls(json['syscalls'], source),
      ...(json['cloneFlags'] !== undefined ? { cloneFlags: this.cloneFlags(json['cloneFlags'], source) } : {}),
      ...(json['files'] !== undefined ? { files: this.files(json['files'], source) } : {}),
      ...(json['network'] !== undefined ? { network: this.network(json['network'], source) } : {}),
      limits: this.limits(json['limits'], source),
    };
  }

  private unknownErrno(x: unknown, source: string): number {
    if (x === undefined || x === 'ENOSYS') return ENOSYS;
    if (x === 'EPERM') return EPERM;
    throw new PolicyError(source, 'unknownSyscalls', `must be "ENOSYS" or "EPERM", got ${show(x)}`);
  }

  private syscalls(x: unknown, source: string): { allow?: ReadonlySet<number>; deny: ReadonlySet<number> } {
    if (x === undefined) return { deny: new Set() };
    if (!isObject(x)) throw new PolicyError(source, 'syscalls', `must be an object with "allow" and/or "deny", got ${show(x)}`);
    for (const key of Object.keys(x)) {
      if (key !== 'allow' && key !== 'deny') throw new PolicyError(source, `syscalls.${key}`, 'unknown field; syscalls has allow and deny');
    }
    const list = (key: 'allow' | 'deny'): Set<number> | undefined => {
      const l = x[key];
      if (l === undefined) return undefined;
      if (!Array.isArray(l)) throw new PolicyError(source, `syscalls.${key}`, `must be an array of system-call names, got ${show(l)}`);
      const out = new Set<number>();
      l.forEach((n, i) => {
        const field = `syscalls.${key}[${i}]`;
        if (typeof n !== 'string') throw new PolicyError(source, field, `must be a system-call name, got ${show(n)}`);
        if (key === 'allow') {
          // Only what the sandbox can validate can be allowed.
          const s = specNamed(n);
          if (s === undefined) {
            throw new PolicyError(source, field, `'${n}' is not a system call the sandbox can validate (it knows ${SYSCALL_SPECS.map((c) => c.name).join(', ')})`);
          }
          out.add(s.nr);
        } else {
          const nr = specNamed(n)?.nr ?? NR_BY_NAME.get(n);
          if (nr === undefined) throw new PolicyError(source, field, `unknown system call '${n}'`);
          out.add(nr);
        }
      });
      return out;
    };
    const allow = list('allow');
    return { ...(allow !== undefined ? { allow } : {}), deny: list('deny') ?? new Set() };
  }

  /** The clone flags a thread may be made with: names of CLONE_THREAD_FLAGS, the three a thread needs among them. */
  private cloneFlags(x: unknown, source: string): number {
    if (!Array.isArray(x)) throw new PolicyError(source, 'cloneFlags', `must be an array of CLONE_* names, got ${show(x)}`);
    let mask = 0;
    x.forEach((n, i) => {
      const field = `cloneFlags[${i}]`;
      const bit = CLONE_FLAG_NAMES.find(([name]) => name === n)?.[1];
      if (bit === undefined) throw new PolicyError(source, field, `unknown clone flag ${show(n)}`);
      if ((bit & CLONE_THREAD_FLAGS) === 0) {
        throw new PolicyError(source, field, `${n as string} cannot be allowed: the sandbox makes threads of the program's own group only (${formatCloneFlags(CLONE_THREAD_FLAGS)})`);
      }
      mask = (mask | bit) >>> 0;
    });
    if ((mask & CLONE_THREAD_REQUIRED) !== CLONE_THREAD_REQUIRED) {
      throw new PolicyError(source, 'cloneFlags', `must include ${formatCloneFlags(CLONE_THREAD_REQUIRED)}, without which clone makes no thread (use syscalls.deny for no threads at all)`);
    }
    return mask;
  }

  private files(x: unknown, source: string): FileRule[] {
    if (!Array.isArray(x)) throw new PolicyError(source, 'files', `must be an array of { "path", "access" } rules, got ${show(x)}`);
    return x.map((r, index) => {
      const field = `files[${index}]`;
      if (!isObject(r)) throw new PolicyError(source, field, `must be an object { "path", "access" }, got ${show(r)}`);
      for (const key of Object.keys(r)) {
        if (key !== 'path' && key !== 'access') throw new PolicyError(source, `${field}.${key}`, 'unknown field; a rule has path and access');
      }
      const p = r['path'];
      if (typeof p !== 'string' || !p.startsWith('/') || p.includes('\0')) {
        throw new PolicyError(source, `${field}.path`, `must be an absolute guest path, got ${show(p)}`);
      }
      const access = ACCESS[String(r['access'])];
      if (typeof r['access'] !== 'string' || access === undefined) {
        throw new PolicyError(source, `${field}.access`, `must be "read-only", "read-write" or "none" (or "ro", "rw"), got ${show(r['access'])}`);
      }
      // Normalised like the paths it will be compared with: no '..', no '.', no trailing '/'.
      let norm = posix.normalize(p);
      if (norm.length > 1 && norm.endsWith('/')) norm = norm.slice(0, -1);
      return { path: norm, access, index };
    });
  }

  private network(x: unknown, source: string): NetworkRules {
    if (!isObject(x)) throw new PolicyError(source, 'network', `must be an object with "bind" and/or "connect" rule lists, got ${show(x)}`);
    for (const key of Object.keys(x)) {
      if (key !== 'bind' && key !== 'connect') throw new PolicyError(source, `network.${key}`, 'unknown field; network has bind and connect');
    }
    const list = (key: 'bind' | 'connect'): NetworkRule[] => {
      const l = x[key];
      if (l === undefined) return [];
      if (!Array.isArray(l)) throw new PolicyError(source, `network.${key}`, `must be an array of { "address", "ports" } rules, got ${show(l)}`);
      return l.map((r, index) => {
        const field = `network.${key}[${index}]`;
        if (!isObject(r)) throw new PolicyError(source, field, `must be an object { "address", "ports" }, got ${show(r)}`);
        for (const k of Object.keys(r)) {
          if (k !== 'address' && k !== 'ports') throw new PolicyError(source, `${field}.${k}`, 'unknown field; a rule has address and ports');
        }
        const a = parseCidr(r['address']);
        if (a === undefined) throw new PolicyError(source, `${field}.address`, `must be "any", an IPv4 address or an IPv4 prefix such as "127.0.0.0/8", got ${show(r['address'])}`);
        const ports = parsePorts(r['ports']);
        if (ports === undefined) throw new PolicyError(source, `${field}.ports`, `must be "any", a port (0-65535), a range "LO-HI", or an array of them, got ${show(r['ports'])}`);
        return { ...a, ports, index };
      });
    };
    return { bind: list('bind'), connect: list('connect') };
  }

  private limits(x: unknown, source: string): SandboxLimits {
    if (x === undefined) return {};
    if (!isObject(x)) throw new PolicyError(source, 'limits', `must be an object, got ${show(x)}`);
    const out: Record<string, number> = {};
    for (const [key, value] of Object.entries(x)) {
      const rule = LIMIT_KEYS[key as keyof SandboxLimits];
      if (rule === undefined) throw new PolicyError(source, `limits.${key}`, `unknown limit; limits are ${Object.keys(LIMIT_KEYS).join(', ')}`);
      const ok = typeof value === 'number' && (rule.whole ? Number.isSafeInteger(value) : Number.isFinite(value)) && value >= rule.min && value <= (rule.max ?? Infinity);
      if (!ok) {
        throw new PolicyError(source, `limits.${key}`, `must be ${rule.what}, got ${show(value)}`);
      }
      out[key] = value;
    }
    return out;
  }
}

/** "any", "A.B.C.D" or "A.B.C.D/N" → the prefix; undefined if malformed. */
function parseCidr(x: unknown): { address: number; prefixLength: number } | undefined {
  if (x === undefined || x === 'any') return { address: 0, prefixLength: 0 };
  if (typeof x !== 'string') return undefined;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(x);
  if (m === null) return undefined;
  const bytes = m.slice(1, 5).map(Number);
  const prefixLength = m[5] === undefined ? 32 : Number(m[5]);
  if (bytes.some((b) => b > 255) || prefixLength > 32) return undefined;
  const address = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  return { address, prefixLength };
}

/** "any" (or absent), a port, "LO-HI", or an array of ports and ranges → the ranges; undefined if malformed. */
function parsePorts(x: unknown): Array<[number, number]> | undefined {
  if (x === undefined || x === 'any') return [];
  const one = (p: unknown): [number, number] | undefined => {
    if (typeof p === 'number') return Number.isInteger(p) && p >= 0 && p <= 65535 ? [p, p] : undefined;
    if (typeof p !== 'string') return undefined;
    const m = /^(\d{1,5})-(\d{1,5})$/.exec(p);
    if (m === null) return undefined;
    const lo = Number(m[1]);
    const hi = Number(m[2]);
    return lo <= hi && hi <= 65535 ? [lo, hi] : undefined;
  };
  const items = Array.isArray(x) ? x : [x];
  if (items.length === 0) return undefined;
  const out: Array<[number, number]> = [];
  for (const p of items) {
    const r = one(p);
    if (r === undefined) return undefined;
    out.push(r);
  }
  return out;
}
