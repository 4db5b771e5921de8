import { PAGE_SIZE } from './arch.js';
import { NATIVE_STUB_LENGTH, NativeCodeRegistry, NativeCpl, NativeEntry, NativeFn } from './native-code.js';

/**
 * Lays out native instructions back to back (each stub is 7 bytes), so that a native which does
 * not branch falls through to the next one, as machine code does. Labels name addresses for
 * jumps. The result is bytes plus the offset of each label; the caller copies each page of the
 * bytes into a frame and binds the page's natives there (`bindPage`, or `Kernel.mapCode`), since
 * a native runs only from the address it was bound to.
 *
 * Each native runs at one privilege level: the builder's `ring` when it was appended (code that
 * starts in a process and enters Dune has ops for ring 3 and then for ring 0).
 */
export class CodeBuilder {
  private readonly ops: Array<{ label?: string; name: string; fn: NativeFn; instructions: number; cpl: NativeCpl }> = [];
  private cpl: NativeCpl;

  constructor(
    private readonly natives: NativeCodeRegistry,
    /** Linear address the code will be mapped at (page aligned). */
    readonly base: number,
    private readonly prefix = 'code',
    /** The privilege level of the ops appended first. */
    cpl: NativeCpl = 0,
  ) {
    this.cpl = cpl;
  }

  /** Ops appended from now on run at `cpl`. */
  ring(cpl: NativeCpl): this {
    this.cpl = cpl;
    return this;
  }

  /** Appends a native; `label` names its address. */
  op(label: string | undefined, fn: NativeFn, instructions = 1, name?: string): this {
    this.ops.push({ label, name: name ?? label ?? `${this.prefix}+${this.ops.length}`, fn, instructions, cpl: this.cpl });
    return this;
  }

  /** Address of a label (valid once `build()` ran). */
  addr(label: string): number {
    const a = this.labels.get(label);
    if (a === undefined) throw new Error(`${this.prefix}: unknown label '${label}'`);
    return a;
  }

  private readonly labels = new Map<string, number>();
  private built?: Uint8Array;
  private layout: Array<{ at: number; entry: NativeEntry }> = [];

  /** Lays out the code: a stub that would cross a page is preceded by a jump to the next page. */
  build(): Uint8Array {
    if (this.built) return this.built;
    const layout = this.layout;
    let off = 0;
    let prev: NativeCpl = this.ops[0]?.cpl ?? 0;
    for (const op of this.ops) {
      // Room for a jump to the next page if the following stub will not fit. Execution falls
      // into the jump from the op before it, so it runs at that op's level.
      if ((off % PAGE_SIZE) + 2 * NATIVE_STUB_LENGTH > PAGE_SIZE) {
        const target = this.base + off - (off % PAGE_SIZE) + PAGE_SIZE;
        const jmp = this.natives.register(`${this.prefix}:page-jump`, (cpu) => cpu.jump(target), 1, prev);
        layout.push({ at: off, entry: jmp });
        off = off - (off % PAGE_SIZE) + PAGE_SIZE;
      }
      const entry = this.natives.register(`${this.prefix}:${op.name}`, op.fn, op.instructions, op.cpl);
      if (op.label !== undefined) this.labels.set(op.label, this.base + off);
      layout.push({ at: off, entry });
      off += NATIVE_STUB_LENGTH;
      prev = op.cpl;
    }
    const bytes = new Uint8Array(Math.ceil(Math.max(off, 1) / PAGE_SIZE) * PAGE_SIZE);
    for (const { at, entry } of layout) this.natives.writeStub(bytes, at, entry);
    this.built = bytes;
    return bytes;
  }

  /** Binds the natives of page `index` of the built code to the frame at host-physical `pa` holding it. */
  bindPage(index: number, pa: number): void {
    this.build();
    const lo = index * PAGE_SIZE;
    for (const { at, entry } of this.layout) {
      if (at >= lo && at < lo + PAGE_SIZE) this.natives.bind(entry, pa + (at - lo));
    }
  }
}
