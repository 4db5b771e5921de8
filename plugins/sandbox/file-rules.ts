import { FileRule } from './sandbox-policy.js';

export type FileVerdict = { readonly ok: true; readonly rule: FileRule } | { readonly ok: false; readonly why: string };

/**
 * The `files` rules of a policy: a path is judged by the rule with the longest prefix covering
 * it (a whole path component: /data covers /data and /data/x, not /database); no covering rule
 * means no access. Paths come normalised (PathResolver), so '..' cannot climb out of a prefix.
 */
export class FileRules {
  constructor(readonly rules: readonly FileRule[]) {}

  ruleFor(path: string): FileRule | undefined {
    let best: FileRule | undefined;
    for (const r of this.rules) {
      const covers = r.path === '/' || path === r.path || path.startsWith(r.path + '/');
      if (covers && (best === undefined || r.path.length > best.path.length)) best = r;
    }
    return best;
  }

  judge(path: string, access: 'read' | 'write'): FileVerdict {
    const rule = this.ruleFor(path);
    if (rule === undefined) return { ok: false, why: `no files rule covers ${path}` };
    const name = `files[${rule.index}] (${rule.path}, ${rule.access})`;
    if (rule.access === 'none') return { ok: false, why: `${name} forbids ${path}` };
    if (access === 'write' && rule.access === 'read-only') return { ok: false, why: `${name} does not allow writing ${path}` };
    return { ok: true, rule };
  }
}
