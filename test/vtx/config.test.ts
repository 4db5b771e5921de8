/**
 * Configuration errors of the machine: each bad setting is refused with a ConfigError whose
 * message names the problem (the CLI prints it alone and exits with status 2).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/config-error.js';
import { DEFAULT_PROFILE, loadProfile } from '../../core/vtx/cost-model.js';
import { Machine, MachineConfig } from '../../core/vtx/machine.js';
import { MiB } from './helpers.js';

/** The ConfigError `make` throws (fails if it throws anything else, or nothing). */
function configError(make: () => unknown): ConfigError {
  try {
    make();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

const machine = (c: Partial<MachineConfig>) => () => new Machine({ memory: 16 * MiB, ...c });

/** Writes a copy of the default profile, edited by `edit`, to a temp file; returns its path. */
function profileFile(edit: (p: Record<string, any>) => void, raw?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'dunesim-profile-'));
  const path = join(dir, 'edited.json');
  const p = JSON.parse(readFileSync(new URL(`../../core/vtx/profiles/${DEFAULT_PROFILE}.json`, import.meta.url), 'utf8'));
  edit(p);
  writeFileSync(path, raw ?? JSON.stringify(p));
  return path;
}

describe('machine configuration errors', () => {
  it('memory that is not a multiple of 4 KiB', () => {
    const e = configError(machine({ memory: 16 * MiB + 100 }));
    expect(e.message).toMatch(/memory size 16777316 is not a multiple of 4 KiB/);
  });

  it('memory that is zero, negative or not a whole number', () => {
    for (const memory of [0, -4096, 4096.5]) {
      expect(configError(machine({ memory })).message).toMatch(/memory size must be a positive whole number/);
    }
  });

  it('memory above the 4 GiB a Node ArrayBuffer allows', () => {
    expect(configError(machine({ memory: 2 ** 33 })).message).toMatch(/exceeds 4294967296 bytes \(4 GiB\)/);
  });

  it('memory beyond the physical address width', () => {
    expect(configError(machine({ memory: 2 ** 32 + 4096, physBits: 32 })).message).toMatch(/exceeds the 32-bit physical address space/);
  });

  it('an unknown profile name, with the available ones listed', () => {
    const e = configError(machine({ profile: 'no-such-machine' }));
    expect(e.message).toMatch(/unknown cost profile 'no-such-machine'/);
    expect(e.message).toContain(DEFAULT_PROFILE);
  });

  it('a profile file missing a constant names the constant', () => {
    const path = profileFile((p) => delete p.constants.vmExit);
    const e = configError(machine({ profile: path }));
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/constant 'vmExit' \(.*\) is missing/);
  });

  it('a profile constant without a source, or with a negative value, is refused', () => {
    const noSource = profileFile((p) => delete p.constants.walkRef.source);
    expect(configError(machine({ profile: noSource })).message).toMatch(/constant 'walkRef' needs a 'source'/);
    const negative = profileFile((p) => (p.constants.iretq.value = -1));
    expect(configError(machine({ profile: negative })).message).toMatch(/constant 'iretq' needs a non-negative number 'value'/);
  });

  it('a profile with an unknown constant, a bad TLB geometry, or broken JSON is refused', () => {
    const unknown = profileFile((p) => (p.constants.warpDrive = { value: 1, unit: 'cycles', source: 'x' }));
    expect(configError(machine({ profile: unknown })).message).toMatch(/unknown constant 'warpDrive'/);
    const tlb = profileFile((p) => (p.tlb.ways4k = 3));
    expect(configError(machine({ profile: tlb })).message).toMatch(/'tlb\.ways4k' must be a power of two/);
    const broken = profileFile(() => undefined, '{ "name": ');
    expect(configError(machine({ profile: broken })).message).toMatch(/is not valid JSON/);
  });

  it.each([0, 65, 1.5, -1])('cpus = %s is out of range', (cpus) => {
    expect(configError(machine({ cpus })).message).toBe(`cpus must be a whole number from 1 to 64, got ${cpus}`);
  });

  it.each([31, 53])('physBits = %s is out of range', (physBits) => {
    expect(configError(machine({ physBits })).message).toMatch(new RegExp(`physBits must be 32\\.\\.52, got ${physBits}`));
  });

  it('a quantum that is not positive', () => {
    expect(configError(machine({ quantum: 0 })).message).toMatch(/quantum must be positive/);
  });

  it('valid settings build a machine: 64 CPUs, a loaded profile object, the default profile by name', () => {
    expect(new Machine({ memory: 4 * MiB, cpus: 64 }).cpus).toHaveLength(64);
    expect(new Machine({ memory: 4 * MiB, profile: loadProfile() }).profile.name).toBe(DEFAULT_PROFILE);
    expect(new Machine({ memory: 4 * MiB, profile: DEFAULT_PROFILE }).costs.vmExit).toBeGreaterThan(0);
  });
});
