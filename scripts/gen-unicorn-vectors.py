#!/usr/bin/python3
"""Generate single-instruction x86-64 reference vectors with Unicorn.

Usage (Debian: apt-get install python3-unicorn; use /usr/bin/python3, not a pyenv python):

    /usr/bin/python3 scripts/gen-unicorn-vectors.py [--out test/fixtures/x86-vectors.json]
                                                    [--native auto|on|off] [--assemble]

Each instruction of the table below is run once per input vector on Unicorn (64-bit mode, the
engine's default CPU model) and the machine state before and after is recorded. Inputs are
deterministic: edge values for every operand size, plus pseudo-random values from a fixed seed.

With --native (default: auto = on when this host is x86-64 Linux) every vector is also run on the
host CPU, through a small machine-code harness mapped at the same addresses, and compared with
Unicorn on everything the vector declares as defined. Where they disagree, the CPU is right (so far
always a Unicorn bug): the CPU's result is recorded ("source": "native") and the case is reported on
stderr. POPCNT, which Unicorn's CPU model refuses (#UD), is also taken from the host CPU. Without a
host CPU (--native off, or not x86-64), those vectors and the known Unicorn bugs are skipped.

--assemble re-derives the ENCODINGS table at the end of this file from the asm texts with GNU as
(binutils) and rewrites it in place. Normal runs need no assembler: the bytes are given directly.

JSON schema (schema version 1)
------------------------------
{
  "schema": 1,
  "generator": "scripts/gen-unicorn-vectors.py",
  "engine": "unicorn 2.0.1",          # version used
  "codeAddress": "0x100000",          # every instruction is placed at (and RIP starts at) this address
  "dataAddress": "0x200000",          # one read/write data page is mapped here (4096 bytes)
  "dataSize": 4096,
  "flagBits": {"CF": 1, "PF": 4, "AF": 16, "ZF": 64, "SF": 128, "DF": 1024, "OF": 2048},
  "registers": ["rax", "rcx", ...],   # the 16 GPR names used as keys
  "counts": {"alu": 1234, ...},       # vectors per group
  "vectors": [
    {
      "group": "alu",                 # instruction family (see "counts")
      "asm": "add eax, ebx",          # Intel syntax, as GNU as / objdump -M intel write it
      "bytes": "01d8",                # machine code, hex
      "in":  {"rax": "0x...", ...},   # input GPRs, 16 hex digits each. EVERY GPR NOT LISTED IS 0
                                      # ON INPUT AND IS STILL 0 ON OUTPUT (the generator checks it).
                                      # RSP is never used (always 0 / not listed).
      "rflagsIn": "0x...",            # input RFLAGS (bit 1 always set; only status flags and DF vary)
      "out": {"rax": "0x...", ...},   # output GPRs: same keys as "in"
      "rflagsOut": "0x...",           # RFLAGS after the instruction, as Unicorn computed it
      "flagsMask": "0x...",           # bits of RFLAGS that are architecturally defined after this
                                      # instruction for these inputs (status flags + DF). Compare
                                      # only (rflags & flagsMask). Unchanged flags count as defined.
      "undefRegs": ["rax"],           # optional: registers whose output value is undefined (e.g.
                                      # BSF/BSR destination when the source is 0): do not compare
      "mem": {"addr": "0x...",        # optional: a window of the data page: write "before" there,
              "before": "hex",        # run the instruction, expect "after". The instruction only
              "after": "hex"},        # reads and writes inside this window (checked by hooks).
      "source": "native"              # optional: recorded from the host CPU, not Unicorn
    }, ...
  ]
}
RIP after each instruction is codeAddress + len(bytes) (no branches are included; REP string
instructions run to completion). Registers are little-endian 64-bit values; narrow operands live in
their usual sub-registers (AH..BH are bits 8..15).
"""

import argparse
import ctypes
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile

CODE_ADDR = 0x100000
DATA_ADDR = 0x200000
DATA_SIZE = 0x1000
SEED = 20121008  # OSDI'12

CF, PF, AF, ZF, SF, DF, OF = 0x1, 0x4, 0x10, 0x40, 0x80, 0x400, 0x800
STATUS = CF | PF | AF | ZF | SF | OF
ALLDEF = STATUS | DF
FLAG_BITS = {"CF": CF, "PF": PF, "AF": AF, "ZF": ZF, "SF": SF, "DF": DF, "OF": OF}

GPRS = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
M64 = (1 << 64) - 1


def mask(w):
    return (1 << w) - 1


# ---- registers ---------------------------------------------------------------------------
def _subregs():
    t = {}
    legacy = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"]
    for i, r in enumerate(GPRS):
        t[r] = (r, 64, 0)
        if i < 8:
            t["e" + legacy[i]] = (r, 32, 0)
            t[legacy[i]] = (r, 16, 0)
        else:
            t[r + "d"] = (r, 32, 0)
            t[r + "w"] = (r, 16, 0)
            t[r + "b"] = (r, 8, 0)
    for i, n in enumerate(["al", "cl", "dl", "bl"]):
        t[n] = (GPRS[i], 8, 0)
        t[n[0] + "h"] = (GPRS[i], 8, 8)
    for n, r in [("spl", "rsp"), ("bpl", "rbp"), ("sil", "rsi"), ("dil", "rdi")]:
        t[n] = (r, 8, 0)
    return t


SUBREG = _subregs()


def sub(name):
    return SUBREG[name]


# ---- input generation --------------------------------------------------------------------
rng = random.Random(SEED)


def edge_values(w):
    m = mask(w)
    vals = [0, 1, 2, m, m - 1, m >> 1, (m >> 1) + 1, (m >> 1) - 1, (m >> 1) + 2,
            0x5555555555555555 & m, 0xAAAAAAAAAAAAAAAA & m]
    for b in [0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000,
              0x7fffffff, 0x80000000, 0xffffffff, 0x100000000]:
        if b <= m:
            vals.append(b)
    out = []
    for v in vals:
        if v not in out:
            out.append(v)
    return out


def core_values(w):
    m = mask(w)
    return [0, 1, m, m >> 1, (m >> 1) + 1, 0x5555555555555555 & m]


def rnd(w):
    # bias towards interesting bit patterns now and then
    k = rng.random()
    if k < 0.15:
        return (1 << rng.randrange(w)) & mask(w)
    if k < 0.25:
        return mask(rng.randrange(1, w + 1))
    return rng.getrandbits(w)


def garbage():
    return rng.getrandbits(64)


def rand_flags():
    return 0x2 | (rng.getrandbits(12) & STATUS)


FLAG_CYCLE = [0x2, 0x2 | STATUS, 0x2 | CF, 0x2 | (STATUS & ~CF)]


def flags_for(i):
    return FLAG_CYCLE[i % 4] if i < 8 else rand_flags()


class State:
    """Inputs of one vector: registers (64-bit), rflags, data-page window bytes."""

    def __init__(self, rflags=0x2):
        self.regs = {}
        self.rflags = rflags
        self.mem = {}  # addr -> byte

    def put(self, name, v, dirty=True):
        r, w, sh = sub(name)
        if r not in self.regs:
            self.regs[r] = garbage() if (dirty and w < 64) else 0
        cur = self.regs[r]
        self.regs[r] = (cur & ~(mask(w) << sh) | ((v & mask(w)) << sh)) & M64

    def put_mem(self, addr, v, w):
        for i in range(w // 8):
            self.mem[addr + i] = (v >> (8 * i)) & 0xff


# ---- entries -----------------------------------------------------------------------------
class Entry:
    def __init__(self, asm, group, op, w, regs, vectors, window=None, undef=None, masker=None):
        self.asm, self.group, self.op, self.w = asm, group, op, w
        self.regs = regs            # registers recorded (all keys of "in"/"out")
        self.vectors = vectors      # list of State
        self.window = window        # (addr, length) of the data window, or None
        self.undef = undef          # fn(State) -> list of undefined output registers
        self.masker = masker        # fn(State) -> flagsMask


ENTRIES = []


def add(asm, group, op, w, regs, vectors, **kw):
    for s in vectors:
        for r in list(s.regs):
            if r not in regs:
                regs = regs + [r]
    ENTRIES.append(Entry(asm, group, op, w, list(dict.fromkeys(regs)), vectors, **kw))


def count_of(s, name_or_imm, w):
    v = s.regs[sub(name_or_imm)[0]] & 0xff if isinstance(name_or_imm, str) else name_or_imm
    return v & (0x3f if w == 64 else 0x1f)


def shift_mask(op, w, mc):
    if mc == 0:
        return ALLDEF
    m = ALLDEF
    if op in ("shl", "shr", "sar"):
        m &= ~AF
        if mc != 1:
            m &= ~OF
        if op in ("shl", "shr") and mc >= w:
            m &= ~CF
    elif op in ("rol", "ror", "rcl", "rcr"):
        if mc != 1:
            m &= ~OF
    elif op in ("shld", "shrd"):
        m &= ~AF
        if mc != 1:
            m &= ~OF
    return m


def fixed_mask(m):
    return lambda s: m


MASKS = {
    "logic": ALLDEF & ~AF,
    "mul": CF | OF | DF,
    "div": DF,
    "bt": CF | ZF | DF,
    "bsf": ZF | DF,
    "lzcnt": CF | ZF | DF,
}

B8 = [("al", "bl"), ("cl", "dh"), ("sil", "r9b"), ("r10b", "dil"), ("ah", "bh")]
B16 = [("ax", "bx"), ("r8w", "dx"), ("si", "r15w")]
B32 = [("eax", "ebx"), ("r11d", "esi"), ("ecx", "r8d")]
B64 = [("rax", "rbx"), ("r12", "r13"), ("rdi", "r15"), ("rbp", "rsi")]
PAIRS = {8: B8, 16: B16, 32: B32, 64: B64}
MEMBASE = DATA_ADDR + 0x100
WIN = (MEMBASE - 0x20, 0x60)


def pair_values(w, full):
    """Operand pairs: all pairs of core values (full) + random pairs."""
    out = []
    if full:
        cv = core_values(w)
        out += [(a, b) for a in cv for b in cv]
        ev = edge_values(w)
        out += [(rng.choice(ev), rng.choice(ev)) for _ in range(6)]
        out += [(rnd(w), rnd(w)) for _ in range(8)]
    else:
        ev = edge_values(w)
        out += [(rng.choice(ev), rnd(w)) for _ in range(3)]
        out += [(rnd(w), rnd(w)) for _ in range(5)]
    return out


def imm_str(v):
    return hex(v) if v >= 0 else "-" + hex(-v)


def sx(v, w):
    v &= mask(w)
    return v - (1 << w) if v >> (w - 1) else v


# ---- ALU: add adc sub sbb cmp and or xor test ------------------------------------------------
def gen_alu():
    ops = ["add", "adc", "sub", "sbb", "cmp", "and", "or", "xor", "test"]
    for oi, op in enumerate(ops):
        reads_cf = op in ("adc", "sbb")
        m = MASKS["logic"] if op in ("and", "or", "xor", "test") else ALLDEF
        for w in (8, 16, 32, 64):
            pairs = PAIRS[w]
            forms = [(pairs[0], True), (pairs[1 + oi % (len(pairs) - 1)], False)]
            for (d, s), full in forms:
                vecs = []
                for i, (a, b) in enumerate(pair_values(w, full)):
                    cfs = [0, CF] if reads_cf else [None]
                    for cf in cfs:
                        st = State(flags_for(i))
                        if cf is not None:
                            st.rflags = (st.rflags & ~CF) | cf
                        dirty = i % 2 == 1
                        st.put(d, a, dirty)
                        st.put(s, b, dirty)
                        vecs.append(st)
                add(f"{op} {d}, {s}", "alu", op, w, [sub(d)[0], sub(s)[0]], vecs, masker=fixed_mask(m))
            # immediates: accumulator short form and the generic (sign-extended imm8) form
            imms = {8: [("al", 0x80), ("bl", 0x7f)], 16: [("ax", 0x8000), ("dx", -2)],
                    32: [("eax", 0x12345678), ("ecx", -0x80)],
                    64: [("rax", -0x80000000), ("rdx", 0x7fffffff), ("r9", -1)]}[w]
            for reg, imm in imms:
                vecs = []
                for i in range(8):
                    st = State(flags_for(i))
                    st.put(reg, rng.choice(edge_values(w)) if i < 4 else rnd(w), i % 2 == 1)
                    if reads_cf:
                        st.rflags = (st.rflags & ~CF) | (CF if i % 2 else 0)
                    vecs.append(st)
                add(f"{op} {reg}, {imm_str(imm)}", "alu", op, w, [sub(reg)[0]], vecs, masker=fixed_mask(m))
    # alternative (reg, r/m) encodings
    for op in ("add", "sub", "xor"):
        vecs = []
        for i, (a, b) in enumerate(pair_values(32, False)):
            st = State(flags_for(i))
            st.put("eax", a)
            st.put("ebx", b)
            vecs.append(st)
        add(f"{{load}} {op} eax, ebx", "alu", op, 32, ["rax", "rbx"], vecs,
            masker=fixed_mask(MASKS["logic"] if op == "xor" else ALLDEF))
    # same register as both operands (zeroing idioms, high-byte aliasing)
    for asm, regs, w, op in [("xor eax, eax", ["eax"], 32, "xor"), ("sub rcx, rcx", ["rcx"], 64, "sub"),
                             ("add al, ah", ["al", "ah"], 8, "add"), ("cmp rdx, rdx", ["rdx"], 64, "cmp"),
                             ("adc ebx, ebx", ["ebx"], 32, "adc"), ("sbb r8d, r8d", ["r8d"], 32, "sbb"),
                             ("and sil, sil", ["sil"], 8, "and"), ("or ax, ax", ["ax"], 16, "or")]:
        vecs = []
        for i in range(8):
            st = State(flags_for(i))
            for r in regs:
                st.put(r, rng.choice(edge_values(8 if "h" in r else w)) if i < 4 else rnd(w))
            vecs.append(st)
        m = MASKS["logic"] if op in ("and", "or", "xor") else ALLDEF
        add(asm, "alu", op, w, [sub(regs[0])[0]], vecs, masker=fixed_mask(m))
    # memory operands
    for asm, w, op, memfirst, reg in [
        ("add qword ptr [rbx+8], rax", 64, "add", True, "rax"),
        ("sub dword ptr [rbx], ecx", 32, "sub", True, "ecx"),
        ("and byte ptr [rbx+rsi*1+3], dl", 8, "and", True, "dl"),
        ("cmp rax, qword ptr [rbx]", 64, "cmp", False, "rax"),
        ("adc word ptr [rbx+rdi*2-2], r9w", 16, "adc", True, "r9w"),
        ("xor ecx, dword ptr [rbx+0x10]", 32, "xor", False, "ecx"),
        ("or word ptr [rbx], 0x1234", 16, "or", True, None),
        ("test byte ptr [rbx+1], 0x81", 8, "test", True, None),
    ]:
        ea = MEMBASE + {"[rbx+8]": 8, "[rbx]": 0, "[rbx+rsi*1+3]": 3 + 5, "[rbx+rdi*2-2]": -2 + 6,
                        "[rbx+0x10]": 0x10, "[rbx+1]": 1}[re.search(r"\[.*?\]", asm).group(0)]
        vecs = []
        for i, (a, b) in enumerate(pair_values(w, False) + pair_values(w, False)[:4]):
            st = State(flags_for(i))
            st.put("rbx", MEMBASE)
            if "rsi" in asm:
                st.put("rsi", 5)
            if "rdi" in asm:
                st.put("rdi", 3)
            st.put_mem(ea, a, w)
            if reg:
                st.put(reg, b)
            vecs.append(st)
        m = MASKS["logic"] if op in ("and", "or", "xor", "test") else ALLDEF
        add(asm, "alu-mem", op, w, ["rbx"], vecs, window=WIN, masker=fixed_mask(m))


# ---- unary: inc dec neg not ----------------------------------------------------------------
def gen_unary():
    regs = {8: ["al", "r11b", "ch"], 16: ["cx", "r14w"], 32: ["edx", "r9d"], 64: ["rsi", "r10"]}
    for op in ("inc", "dec", "neg", "not"):
        for w in (8, 16, 32, 64):
            for k, r in enumerate(regs[w]):
                vals = edge_values(w) + [rnd(w) for _ in range(4)] if k == 0 else [rnd(w) for _ in range(6)]
                vecs = []
                for i, v in enumerate(vals):
                    st = State(flags_for(i))
                    st.put(r, v, i % 2 == 1)
                    vecs.append(st)
                add(f"{op} {r}", "unary", op, w, [sub(r)[0]], vecs, masker=fixed_mask(ALLDEF))
    for asm, w in [("inc dword ptr [rbx]", 32), ("dec word ptr [rbx+2]", 16),
                   ("neg qword ptr [rbx+8]", 64), ("not byte ptr [rbx+1]", 8)]:
        ea = MEMBASE + int(re.search(r"\+(\d+)\]", asm).group(1)) if "+" in asm else MEMBASE
        vecs = []
        for i, v in enumerate(edge_values(w)[:10]):
            st = State(flags_for(i))
            st.put("rbx", MEMBASE)
            st.put_mem(ea, v, w)
            vecs.append(st)
        add(asm, "unary-mem", asm.split()[0], w, ["rbx"], vecs, window=WIN, masker=fixed_mask(ALLDEF))


# ---- shifts and rotates ---------------------------------------------------------------------
SHIFT_REG = {8: ["bl", "ah"], 16: ["dx"], 32: ["esi"], 64: ["r8"]}
SHIFT_IMMS = {8: [0, 3, 8, 9, 31], 16: [0, 5, 16, 17], 32: [0, 7, 31, 32], 64: [0, 13, 63, 64, 255]}
CL_COUNTS = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255]


def shift_vals(w, n):
    ev = edge_values(w)
    return [ev[i % len(ev)] if i % 3 == 0 else rnd(w) for i in range(n)]


def gen_shifts():
    for op in ("shl", "shr", "sar", "rol", "ror", "rcl", "rcr"):
        reads_cf = op in ("rcl", "rcr")
        for w in (8, 16, 32, 64):
            for k, r in enumerate(SHIFT_REG[w]):
                # by 1 (D0/D1 form)
                vecs = []
                for i, v in enumerate(shift_vals(w, 10 if k == 0 else 4)):
                    st = State(flags_for(i))
                    if reads_cf:
                        st.rflags = (st.rflags & ~CF) | (CF if i % 2 else 0)
                    st.put(r, v, i % 2 == 0)
                    vecs.append(st)
                add(f"{op} {r}, 1", "shift", op, w, [sub(r)[0]], vecs,
                    masker=lambda s, op=op, w=w: shift_mask(op, w, 1))
                if k > 0:
                    continue
                # by immediate (C0/C1 form)
                for imm in SHIFT_IMMS[w]:
                    vecs = []
                    for i, v in enumerate(shift_vals(w, 6)):
                        st = State(flags_for(i))
                        if reads_cf:
                            st.rflags = (st.rflags & ~CF) | (CF if i % 2 else 0)
                        st.put(r, v, i % 2 == 0)
                        vecs.append(st)
                    mc = imm & (0x3f if w == 64 else 0x1f)
                    add(f"{op} {r}, {imm}", "shift", op, w, [sub(r)[0]], vecs,
                        masker=lambda s, op=op, w=w, mc=mc: shift_mask(op, w, mc))
                # by CL (D2/D3 form)
                vecs = []
                for i, c in enumerate(CL_COUNTS * 2):
                    st = State(flags_for(i))
                    if reads_cf:
                        st.rflags = (st.rflags & ~CF) | (CF if (i // len(CL_COUNTS)) else 0)
                    st.put(r, rnd(w) if i % 4 else rng.choice(edge_values(w)), i % 2 == 0)
                    st.put("cl", c)
                    vecs.append(st)
                add(f"{op} {r}, cl", "shift", op, w, [sub(r)[0], "rcx"], vecs,
                    masker=lambda s, op=op, w=w: shift_mask(op, w, count_of(s, "cl", w)))
    for asm, w, op, cnt, ea in [("shl dword ptr [rbx], cl", 32, "shl", "cl", MEMBASE),
                                ("sar qword ptr [rbx+8], 1", 64, "sar", 1, MEMBASE + 8),
                                ("rcr byte ptr [rbx], 3", 8, "rcr", 3, MEMBASE),
                                ("rol word ptr [rbx+2], cl", 16, "rol", "cl", MEMBASE + 2)]:
        vecs = []
        for i in range(12):
            st = State(flags_for(i))
            st.put("rbx", MEMBASE)
            st.put_mem(ea, rnd(w), w)
            if cnt == "cl":
                st.put("cl", CL_COUNTS[i % len(CL_COUNTS)])
            vecs.append(st)
        add(asm, "shift-mem", op, w, ["rbx"] + (["rcx"] if cnt == "cl" else []), vecs, window=WIN,
            masker=lambda s, op=op, w=w, cnt=cnt: shift_mask(op, w, count_of(s, cnt, w)))


def gen_double_shifts():
    regs = {16: ("ax", "bx"), 32: ("ecx", "r9d"), 64: ("rdx", "rsi")}
    for op in ("shld", "shrd"):
        for w in (16, 32, 64):
            d, s = regs[w]
            # counts > 16 on 16-bit operands have undefined results: never generated
            imms = {16: [1, 4, 15, 16], 32: [1, 12, 31], 64: [1, 40, 63]}[w]
            for imm in imms:
                vecs = []
                for i in range(6):
                    st = State(flags_for(i))
                    st.put(d, rnd(w), i % 2 == 0)
                    st.put(s, rnd(w), i % 2 == 0)
                    vecs.append(st)
                add(f"{op} {d}, {s}, {imm}", "shld", op, w, [sub(d)[0], sub(s)[0]], vecs,
                    masker=lambda st, op=op, w=w, imm=imm: shift_mask(op, w, imm & (0x3f if w == 64 else 0x1f)))
            counts = [c for c in CL_COUNTS if w != 16 or (c & 0x1f) <= 16]
            vecs = []
            for i, c in enumerate(counts * 2):
                st = State(flags_for(i))
                st.put(d, rnd(w), i % 2 == 0)
                st.put(s, rnd(w), i % 2 == 0)
                st.put("cl", c)
                vecs.append(st)
            add(f"{op} {d}, {s}, cl", "shld", op, w, [sub(d)[0], sub(s)[0], "rcx"], vecs,
                masker=lambda st, op=op, w=w: shift_mask(op, w, count_of(st, "cl", w)))
    vecs = []
    for i in range(10):
        st = State(flags_for(i))
        st.put("rbx", MEMBASE)
        st.put_mem(MEMBASE, rnd(64), 64)
        st.put("rax", rnd(64))
        st.put("cl", CL_COUNTS[i])
        vecs.append(st)
    add("shld qword ptr [rbx], rax, cl", "shld-mem", "shld", 64, ["rbx", "rax", "rcx"], vecs, window=WIN,
        masker=lambda st: shift_mask("shld", 64, count_of(st, "cl", 64)))


# ---- multiply and divide -------------------------------------------------------------------
def gen_muldiv():
    src = {8: "cl", 16: "bx", 32: "r9d", 64: "rsi"}
    for op in ("mul", "imul"):
        for w in (8, 16, 32, 64):
            vecs = []
            for i, (a, b) in enumerate(pair_values(w, True)[::2] + pair_values(w, False)):
                st = State(flags_for(i))
                st.put({8: "al", 16: "ax", 32: "eax", 64: "rax"}[w], a, i % 2 == 0)
                st.put(src[w], b, i % 2 == 0)
                st.put("rdx", garbage())
                vecs.append(st)
            add(f"{op} {src[w]}", "muldiv", op, w, ["rax", "rdx", sub(src[w])[0]], vecs,
                masker=fixed_mask(MASKS["mul"]))
    # imul two- and three-operand
    for asm, w, d, s in [("imul ax, bx", 16, "ax", "bx"), ("imul eax, ebx", 32, "eax", "ebx"),
                         ("imul rax, rbx", 64, "rax", "rbx"), ("imul r10, r11", 64, "r10", "r11"),
                         ("imul ecx, ebx, 0x7f", 32, "ecx", "ebx"), ("imul rdx, rsi, -0x12345678", 64, "rdx", "rsi"),
                         ("imul ax, bx, 0x1234", 16, "ax", "bx"), ("imul r8, r9, -1", 64, "r8", "r9"),
                         ("imul edi, edi, 0x10000", 32, "edi", "edi")]:
        vecs = []
        for i, (a, b) in enumerate(pair_values(w, True)[::3]):
            st = State(flags_for(i))
            st.put(d, a, i % 2 == 0)
            st.put(s, b, i % 2 == 0)
            vecs.append(st)
        add(asm, "muldiv", "imul", w, list(dict.fromkeys([sub(d)[0], sub(s)[0]])), vecs,
            masker=fixed_mask(MASKS["mul"]))
    # div / idiv: choose inputs that cannot raise #DE
    for op in ("div", "idiv"):
        for w in (8, 16, 32, 64):
            vecs = []
            tries = 0
            while len(vecs) < 22 and tries < 10000:
                tries += 1
                i = len(vecs)
                d = rng.choice(edge_values(w)) if i % 3 == 0 else rnd(w)
                if d == 0:
                    continue
                if op == "div":
                    hi = rng.randrange(d) if i % 4 else 0
                    lo = rnd(w)
                    if i % 7 == 0:
                        hi, lo = d - 1, mask(w)  # largest quotient
                else:
                    dv = sx(d, w)
                    q = rng.randrange(-(1 << (w - 1)), 1 << (w - 1)) if i % 4 else rng.choice(
                        [0, 1, -1, (1 << (w - 1)) - 1, -(1 << (w - 1))])
                    r = rng.randrange(abs(dv)) if abs(dv) > 1 else 0
                    n = q * dv
                    n = n + r if n > 0 or (n == 0 and i % 2) else n - r
                    if n == 0:
                        r = 0
                    # check the quotient (truncating) still fits
                    qq = abs(n) // abs(dv) * (1 if (n >= 0) == (dv > 0) else -1)
                    if not -(1 << (w - 1)) <= qq < (1 << (w - 1)):
                        continue
                    if not -(1 << (2 * w - 1)) <= n < (1 << (2 * w - 1)):
                        continue
                    n &= mask(2 * w)
                    hi, lo = n >> w, n & mask(w)
                st = State(flags_for(i))
                if w == 8:
                    st.put("ax", (hi << 8) | lo, i % 2 == 0)
                    st.put("rdx", garbage())
                else:
                    acc = {16: "ax", 32: "eax", 64: "rax"}[w]
                    dreg = {16: "dx", 32: "edx", 64: "rdx"}[w]
                    st.put(acc, lo, i % 2 == 0)
                    st.put(dreg, hi, i % 2 == 0)
                st.put(src[w], d, i % 2 == 0)
                vecs.append(st)
            add(f"{op} {src[w]}", "muldiv", op, w, ["rax", "rdx", sub(src[w])[0]], vecs,
                masker=fixed_mask(MASKS["div"]))
    for asm, w, op in [("mul qword ptr [rbx]", 64, "mul"), ("imul rax, qword ptr [rbx], 7", 64, "imul"),
                       ("imul ecx, dword ptr [rbx+4]", 32, "imul")]:
        vecs = []
        for i in range(10):
            st = State(flags_for(i))
            st.put("rbx", MEMBASE)
            st.put_mem(MEMBASE + (4 if "+4" in asm else 0), rnd(w), w)
            st.put("rax", rnd(64))
            st.put("rdx", garbage())
            st.put("ecx", rnd(32))
            vecs.append(st)
        add(asm, "muldiv-mem", op, w, ["rbx", "rax", "rdx", "rcx"], vecs, window=WIN, masker=fixed_mask(MASKS["mul"]))
    vecs = []
    for i in range(8):
        st = State(flags_for(i))
        d = rnd(32) | 1
        st.put("rbx", MEMBASE)
        st.put_mem(MEMBASE + 8, d, 32)
        st.put("edx", rng.randrange(d))
        st.put("eax", rnd(32))
        vecs.append(st)
    add("div dword ptr [rbx+8]", "muldiv-mem", "div", 32, ["rbx", "rax", "rdx"], vecs, window=WIN,
        masker=fixed_mask(MASKS["div"]))


# ---- bit test, bit scan, popcnt, bswap ------------------------------------------------------------
def gen_bits():
    for op in ("bt", "bts", "btr", "btc"):
        for w, d, s in [(16, "ax", "bx"), (32, "ecx", "edx"), (64, "rsi", "r12")]:
            vecs = []
            for i in range(16):
                st = State(flags_for(i))
                st.put(d, rnd(w), i % 2 == 0)
                st.put(s, rng.choice([0, 1, w - 1, w, w + 1, 2 * w - 1]) if i < 6 else rnd(w), i % 2 == 0)
                vecs.append(st)
            add(f"{op} {d}, {s}", "bits", op, w, [sub(d)[0], sub(s)[0]], vecs, masker=fixed_mask(MASKS["bt"]))
            for imm in ([0, w - 1, w + 3] if op == "bt" else [w - 1, 5]):
                vecs = []
                for i in range(6):
                    st = State(flags_for(i))
                    st.put(d, rnd(w), i % 2 == 0)
                    vecs.append(st)
                add(f"{op} {d}, {imm}", "bits", op, w, [sub(d)[0]], vecs, masker=fixed_mask(MASKS["bt"]))
    # memory bit strings: the register offset is signed and may address bytes outside the operand
    base = DATA_ADDR + 0x800
    win = (base - 0x28, 0x60)
    for asm, w, s in [("bt qword ptr [rbx], rax", 64, "rax"), ("bts dword ptr [rbx], ecx", 32, "ecx"),
                      ("btr qword ptr [rbx], rdx", 64, "rdx"), ("btc word ptr [rbx], si", 16, "si"),
                      ("bts qword ptr [rbx], 70", 64, None), ("btr dword ptr [rbx+4], 3", 32, None)]:
        vecs = []
        for i in range(12):
            st = State(flags_for(i))
            st.put("rbx", base)
            off = rng.randrange(-256, 256) if i > 3 else [0, -1, 63, 255][i]
            for k in range(-32, 40):
                st.mem[base + k] = rng.getrandbits(8)
            if s:
                st.put(s, off & mask(w), False)
            vecs.append(st)
        add(asm, "bits-mem", asm.split()[0], w, ["rbx"] + ([sub(s)[0]] if s else []), vecs, window=win,
            masker=fixed_mask(MASKS["bt"]))
    # bsf bsr lzcnt tzcnt popcnt
    for op in ("bsf", "bsr", "lzcnt", "tzcnt", "popcnt"):
        for w, d, s in [(16, "cx", "r8w"), (32, "eax", "ebx"), (64, "rdx", "r13")]:
            vals = [0, 1, 1 << (w - 1), mask(w), 0x10, 1 << (w // 2)] + [rnd(w) for _ in range(10)]
            vecs = []
            for i, v in enumerate(vals):
                st = State(flags_for(i))
                st.put(d, rnd(w), True)
                st.put(s, v, i % 2 == 0)
                vecs.append(st)
            if op in ("bsf", "bsr"):
                m, und = MASKS["bsf"], (lambda st, d=d, s=s, w=w: [sub(d)[0]] if (st.regs[sub(s)[0]] & mask(w)) == 0 else [])
            elif op == "popcnt":
                m, und = ALLDEF, None
            else:
                m, und = MASKS["lzcnt"], None
            add(f"{op} {d}, {s}", "bitscan", op, w, [sub(d)[0], sub(s)[0]], vecs, masker=fixed_mask(m), undef=und)
    vecs = []
    for i, v in enumerate([0, 1, 0x8000, 0xffff, 0x1234] + [rnd(16) for _ in range(5)]):
        st = State(flags_for(i))
        st.put("rbx", MEMBASE)
        st.put_mem(MEMBASE + 2, v, 16)
        st.put("eax", rnd(32))
        vecs.append(st)
    add("tzcnt ax, word ptr [rbx+2]", "bitscan-mem", "tzcnt", 16, ["rbx", "rax"], vecs, window=WIN,
        masker=fixed_mask(MASKS["lzcnt"]))
    for r, w in [("eax", 32), ("r12d", 32), ("rax", 64), ("r9", 64), ("edi", 32), ("r15", 64)]:
        vecs = []
        for i in range(6):
            st = State(flags_for(i))
            st.put(r, rnd(w) if i else 0x0123456789abcdef & mask(w), True)
            vecs.append(st)
        add(f"bswap {r}", "bits", "bswap", w, [sub(r)[0]], vecs, masker=fixed_mask(ALLDEF))


# ---- exchange ------------------------------------------------------------------------------
def gen_xchg():
    for asm, w, ops in [("xchg rax, rbx", 64, ["rax", "rbx"]), ("xchg ecx, edx", 32, ["ecx", "edx"]),
                        ("xchg al, bh", 8, ["al", "bh"]), ("xchg ax, r9w", 16, ["ax", "r9w"]),
                        ("xchg eax, eax", 32, ["eax"]), ("nop", 32, ["eax"]), ("xchg r8, rax", 64, ["r8", "rax"]),
                        ("xchg esi, eax", 32, ["esi", "eax"])]:
        vecs = []
        for i in range(6):
            st = State(flags_for(i))
            for o in ops:
                st.put(o, rnd(sub(o)[1]), True)
            vecs.append(st)
        add(asm, "xchg", "xchg", w, [sub(o)[0] for o in ops], vecs, masker=fixed_mask(ALLDEF))
    for w, d, s in [(8, "bl", "cl"), (16, "dx", "si"), (32, "edi", "r10d"), (64, "r11", "rax")]:
        vecs = []
        for i, (a, b) in enumerate(pair_values(w, False) + pair_values(w, False)):
            st = State(flags_for(i))
            st.put(d, a, i % 2 == 0)
            st.put(s, b, i % 2 == 0)
            vecs.append(st)
        add(f"xadd {d}, {s}", "xchg", "xadd", w, [sub(d)[0], sub(s)[0]], vecs, masker=fixed_mask(ALLDEF))
    acc = {8: "al", 16: "ax", 32: "eax", 64: "rax"}
    for w, d, s in [(8, "bl", "cl"), (16, "dx", "si"), (32, "ecx", "edx"), (64, "r11", "rbx")]:
        vecs = []
        for i in range(16):
            st = State(flags_for(i))
            a, b = rnd(w), rnd(w)
            st.put(acc[w], a, True)
            st.put(d, a if i % 2 == 0 else (b if i % 4 == 1 else a ^ 1), True)  # equal / not equal
            st.put(s, rnd(w), True)
            vecs.append(st)
        add(f"cmpxchg {d}, {s}", "xchg", "cmpxchg", w, ["rax", sub(d)[0], sub(s)[0]], vecs, masker=fixed_mask(ALLDEF))
    for asm, w, r in [("xchg qword ptr [rbx], rcx", 64, "rcx"), ("lock xadd dword ptr [rbx], eax", 32, "eax"),
                      ("lock cmpxchg qword ptr [rbx+8], rcx", 64, "rcx")]:
        vecs = []
        ea = MEMBASE + (8 if "+8" in asm else 0)
        for i in range(10):
            st = State(flags_for(i))
            st.put("rbx", MEMBASE)
            m = rnd(w)
            st.put_mem(ea, m, w)
            st.put(r, rnd(w), True)
            if "cmpxchg" in asm:
                st.put("rax", m if i % 2 == 0 else rnd(64))
            vecs.append(st)
        add(asm, "xchg-mem", asm.replace("lock ", "").split()[0], w,
            ["rbx", sub(r)[0]] + (["rax"] if "cmpxchg" in asm else []), vecs, window=WIN, masker=fixed_mask(ALLDEF))


# ---- moves and sign/zero extension ----------------------------------------------------------------
def gen_moves():
    forms = [("movsx eax, bl", ["bl"], "eax"), ("movsx ecx, ah", ["ah"], "ecx"), ("movsx rdx, r9b", ["r9b"], "rdx"),
             ("movsx ax, bl", ["bl"], "ax"), ("movsx esi, di", ["di"], "esi"), ("movsx r8, ax", ["ax"], "r8"),
             ("movzx eax, bl", ["bl"], "eax"), ("movzx ecx, ah", ["ah"], "ecx"), ("movzx r10, dil", ["dil"], "r10"),
             ("movzx ax, bl", ["bl"], "ax"), ("movzx edx, si", ["si"], "edx"), ("movzx rax, r11w", ["r11w"], "rax"),
             ("movsxd rax, ebx", ["ebx"], "rax"), ("movsxd r9, r10d", ["r10d"], "r9"),
             ("mov eax, ebx", ["ebx"], "eax"), ("mov ax, bx", ["bx"], "ax"), ("mov ah, cl", ["cl"], "ah"),
             ("mov r12b, sil", ["sil"], "r12b"), ("mov rax, rbx", ["rbx"], "rax"),
             ("mov eax, 0x80000000", [], "eax"), ("mov rax, -1", [], "rax"), ("mov rax, 0x8000000000000000", [], "rax"),
             ("mov ax, 0x1234", [], "ax"), ("mov bh, 0x9a", [], "bh"), ("mov r13d, -2", [], "r13d")]
    for asm, srcs, d in forms:
        vecs = []
        for i in range(8 if srcs else 3):
            st = State(flags_for(i))
            st.put(d, rnd(sub(d)[1]), True)
            for s in srcs:
                w = sub(s)[1]
                st.put(s, [0, mask(w), mask(w) >> 1, (mask(w) >> 1) + 1][i] if i < 4 else rnd(w), True)
            vecs.append(st)
        add(asm, "movx", asm.split()[0], sub(d)[1], [sub(d)[0]] + [sub(s)[0] for s in srcs], vecs,
            masker=fixed_mask(ALLDEF))
    for asm, ea, w in [("movzx eax, word ptr [rbx+rcx*2+4]", MEMBASE + 6 * 2 + 4, 16),
                       ("movsx rax, byte ptr [rbx]", MEMBASE, 8), ("movsxd rdx, dword ptr [rbx+8]", MEMBASE + 8, 32),
                       ("mov qword ptr [rbx+0x18], rdx", MEMBASE + 0x18, 64), ("mov dword ptr [rbx+4], -1", MEMBASE + 4, 32),
                       ("mov word ptr [rbx+2], ax", MEMBASE + 2, 16), ("mov cl, byte ptr [rbx+rcx*1-6]", MEMBASE, 8)]:
        vecs = []
        for i in range(6):
            st = State(flags_for(i))
            st.put("rbx", MEMBASE)
            if "rcx*2" in asm:
                st.put("rcx", 6)
            if "rcx*1" in asm:
                st.put("rcx", 6)
            st.put_mem(ea, [mask(w), (mask(w) >> 1) + 1][i] if i < 2 else rnd(w), w)
            st.put("rax", rnd(64))
            st.put("rdx", rnd(64))
            vecs.append(st)
        add(asm, "movx-mem", asm.split()[0], w, ["rbx", "rax", "rdx", "rcx"], vecs, window=WIN, masker=fixed_mask(ALLDEF))
    for asm, w in [("cbw", 8), ("cwde", 16), ("cdqe", 32), ("cwd", 16), ("cdq", 32), ("cqo", 64)]:
        vecs = []
        for i in range(8):
            st = State(flags_for(i))
            st.put("rax", garbage())
            st.put("rdx", garbage())
            v = [0, mask(w), mask(w) >> 1, (mask(w) >> 1) + 1][i] if i < 4 else rnd(w)
            st.put({8: "al", 16: "ax", 32: "eax", 64: "rax"}[w], v)
            vecs.append(st)
        add(asm, "movx", asm, w, ["rax", "rdx"], vecs, masker=fixed_mask(ALLDEF))


# ---- SETcc / CMOVcc --------------------------------------------------------------------------
CONDS = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]


def flag_combos(n_bits):
    bits = [CF, ZF, SF, OF, PF][:n_bits]
    out = []
    for k in range(1 << n_bits):
        f = 0x2
        for j, b in enumerate(bits):
            if k >> j & 1:
                f |= b
        out.append(f)
    return out


def gen_cond():
    for cc in CONDS:
        vecs = []
        for f in flag_combos(5):
            st = State(f | (rng.getrandbits(1) * AF))
            st.put("rax", garbage())
            vecs.append(st)
        add(f"set{cc} al", "setcc", "setcc", 8, ["rax"], vecs, masker=fixed_mask(ALLDEF))
        vecs = []
        for f in flag_combos(5)[::4] + flag_combos(5)[3::4]:
            st = State(f)
            st.put("r10", garbage())
            vecs.append(st)
        add(f"set{cc} r10b", "setcc", "setcc", 8, ["r10"], vecs, masker=fixed_mask(ALLDEF))
        for d, s, w, combos in [("rax", "rbx", 64, flag_combos(5)[::2] + flag_combos(5)[1::2][:4]),
                                ("ecx", "edx", 32, flag_combos(4) + [0x2 | PF, 0x2 | PF | ZF]),
                                ("si", "r9w", 16, flag_combos(5)[::3])]:
            vecs = []
            for f in combos:
                st = State(f)
                st.put(d, garbage() & mask(w), True)
                st.put(s, garbage() & mask(w), True)
                vecs.append(st)
            add(f"cmov{cc} {d}, {s}", "cmov", "cmov", w, [sub(d)[0], sub(s)[0]], vecs, masker=fixed_mask(ALLDEF))
    for cc in ("e", "l"):
        vecs = []
        for f in flag_combos(4):
            st = State(f)
            st.put("rbx", MEMBASE)
            st.put_mem(MEMBASE + 8, rnd(64), 64)
            st.put("rax", garbage())
            vecs.append(st)
        add(f"cmov{cc} rax, qword ptr [rbx+8]", "cmov-mem", "cmov", 64, ["rax", "rbx"], vecs, window=WIN,
            masker=fixed_mask(ALLDEF))
        vecs = []
        for f in flag_combos(4):
            st = State(f)
            st.put("rbx", MEMBASE)
            vecs.append(st)
        add(f"set{cc} byte ptr [rbx+3]", "setcc-mem", "setcc", 8, ["rbx"], vecs, window=WIN, masker=fixed_mask(ALLDEF))


# ---- LEA -----------------------------------------------------------------------------------------
def gen_lea():
    forms = [("lea rax, [rbx+rcx*4+0x10]", ["rbx", "rcx"], "rax"),
             ("lea eax, [rbx+rcx*8-1]", ["rbx", "rcx"], "rax"),
             ("lea rax, [rbx+rbx*2]", ["rbx"], "rax"),
             ("lea r8, [r9+r10*1]", ["r9", "r10"], "r8"),
             ("lea rax, [rcx*2]", ["rcx"], "rax"),
             ("lea rdx, [rbp+0x0]", ["rbp"], "rdx"),
             ("lea rsi, [r13+r12*4]", ["r13", "r12"], "rsi"),
             ("lea ax, [rbx+rcx*1]", ["rbx", "rcx"], "rax"),
             ("lea eax, [ebx+ecx*2]", ["rbx", "rcx"], "rax"),
             ("lea rdi, [rsi+rdi*8+0x7fffffff]", ["rsi", "rdi"], "rdi"),
             ("lea rax, [rip+0x100]", [], "rax"),
             ("lea r15, [0x12345678]", [], "r15"),
             ("lea rcx, [rax-0x80000000]", ["rax"], "rcx")]
    for asm, srcs, d in forms:
        vecs = []
        for i in range(10 if srcs else 2):
            st = State(flags_for(i))
            st.put(d, garbage())
            for s in srcs:
                st.put(s, rng.choice(edge_values(64)) if i < 4 else rnd(64))
            vecs.append(st)
        add(asm, "lea", "lea", 64, [d] + srcs, vecs, masker=fixed_mask(ALLDEF))


# ---- string instructions ----------------------------------------------------------------------------
def gen_string():
    src, dst = DATA_ADDR + 0x300, DATA_ADDR + 0x380
    win = (DATA_ADDR + 0x2f0, 0x120)

    def fill(st):
        for a in range(win[0], win[0] + win[1]):
            st.mem[a] = rng.getrandbits(8)

    cases = []
    for n in (0, 1, 7, 16, 33, 64):
        cases.append(("rep movsb", dict(rsi=src, rdi=dst, rcx=n), 0))
    cases.append(("rep movsb", dict(rsi=src + 0x3f, rdi=dst + 0x3f, rcx=20), DF))       # backwards
    cases.append(("rep movsb", dict(rsi=src, rdi=src + 1, rcx=24), 0))                   # overlapping
    for n in (0, 1, 5, 12):
        cases.append(("rep stosq", dict(rdi=dst, rcx=n, rax=garbage()), 0))
    cases.append(("rep stosq", dict(rdi=dst + 0x60, rcx=4, rax=garbage()), DF))
    cases.append(("movsb", dict(rsi=src + 5, rdi=dst + 9), 0))
    cases.append(("movsb", dict(rsi=src + 5, rdi=dst + 9), DF))
    cases.append(("movsq", dict(rsi=src, rdi=dst + 3), 0))
    cases.append(("stosb", dict(rdi=dst + 1, rax=garbage()), 0))
    cases.append(("stosd", dict(rdi=dst + 8, rax=garbage()), DF))
    cases.append(("lodsq", dict(rsi=src + 8, rax=garbage()), 0))
    cases.append(("lodsb", dict(rsi=src + 8, rax=garbage()), DF))
    for n, stop in ((16, 5), (16, None), (0, None), (40, 0)):
        cases.append(("repne scasb", dict(rdi=src, rcx=n, rax=0x100 | 0xAB, _stop=stop), 0))
    for n, diff in ((16, 7), (16, None), (0, None), (33, 32)):
        cases.append(("repe cmpsb", dict(rsi=src, rdi=dst, rcx=n, _diff=diff), 0))
    groups = {}
    for asm, regs, df in cases:
        st = State(0x2 | df | (rng.getrandbits(12) & STATUS))
        fill(st)
        stop = regs.pop("_stop", "x")
        diff = regs.pop("_diff", "x")
        for r, v in regs.items():
            st.put(r, v)
        if stop != "x":
            for k in range(64):
                if st.mem[src + k] == 0xAB:
                    st.mem[src + k] = 0x11
            if stop is not None:
                st.mem[src + stop] = 0xAB
        if diff != "x":
            for k in range(64):
                st.mem[dst + k] = st.mem[src + k]
            if diff is not None:
                st.mem[dst + diff] ^= 0x40
        groups.setdefault(asm, []).append(st)
    for asm, vecs in groups.items():
        regs = ["rsi", "rdi", "rcx", "rax"]
        mk = ALLDEF
        add(asm, "string", asm.split()[-1], 8, regs, vecs, window=win, masker=fixed_mask(mk))


# ---- Unicorn 2.0.1 bugs found by the host-CPU cross-check ----------------------------------------
def unicorn_known_wrong(e, st):
    """Vectors on which Unicorn 2.0.1 is known to be wrong (see test/fixtures/README.md). Without a
    host CPU to take the right answer from, they are skipped rather than recorded wrongly."""
    if e.asm.startswith("cmpxchg") and re.match(r"cmpxchg e..?, ", e.asm):
        return True  # 32-bit register CMPXCHG: zero-extends the register that must stay untouched
    return False


# ---- execution on Unicorn ------------------------------------------------------------------------
def _new_uc(code, hooked):
    from unicorn import Uc, UC_ARCH_X86, UC_MODE_64, UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE
    uc = Uc(UC_ARCH_X86, UC_MODE_64)
    uc.mem_map(CODE_ADDR, 0x1000)
    uc.mem_map(DATA_ADDR, DATA_SIZE)
    uc.mem_write(CODE_ADDR, code)
    acc = []
    if hooked:
        uc.hook_add(UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE,
                    lambda uc, access, addr, size, value, acc: acc.append((addr, size)), acc)
    return uc, acc


def _emulate(uc, code, st, page, window):
    from unicorn import x86_const as X
    uc.mem_write(DATA_ADDR, page)
    if window:
        a, n = window
        uc.mem_write(a, bytes(st.mem.get(a + i, 0) for i in range(n)))
    for r in GPRS:
        uc.reg_write(getattr(X, "UC_X86_REG_" + r.upper()), st.regs.get(r, 0))
    uc.reg_write(X.UC_X86_REG_EFLAGS, st.rflags)
    uc.emu_start(CODE_ADDR, CODE_ADDR + len(code))
    regs = {r: uc.reg_read(getattr(X, "UC_X86_REG_" + r.upper())) for r in GPRS}
    return regs, uc.reg_read(X.UC_X86_REG_EFLAGS), uc.reg_read(X.UC_X86_REG_RIP), bytes(uc.mem_read(DATA_ADDR, DATA_SIZE))


def run_unicorn(e, code, st):
    """Runs one vector. The recorded run has no hooks: Unicorn 2.0.1 miscomputes the flags of some
    memory-destination instructions (e.g. SHL/SHLD m, CL) when memory hooks are installed. A second,
    hooked run only checks that every access falls inside the declared window."""
    if e._uc is None:
        e._uc = _new_uc(code, False)[0]
        e._probe = _new_uc(code, True)
    page = rng.randbytes(DATA_SIZE)  # background (outside any window)
    regs, flags, rip, after = _emulate(e._uc, code, st, page, e.window)
    if rip != CODE_ADDR + len(code):
        raise RuntimeError(f"{e.asm}: RIP {rip:#x} after the instruction")
    probe, acc = e._probe
    del acc[:]
    _emulate(probe, code, st, page, e.window)
    mem = None
    if e.window:
        a, n = e.window
        off = a - DATA_ADDR
        for addr, size in acc:
            if addr < a or addr + size > a + n:
                raise RuntimeError(f"{e.asm}: access {addr:#x}+{size} outside the window")
        if after[:off] != page[:off] or after[off + n:] != page[off + n:]:
            raise RuntimeError(f"{e.asm}: write outside the window")
        mem = after[off:off + n]
    elif after != page or acc:
        raise RuntimeError(f"{e.asm}: unexpected memory access")
    return regs, flags, mem


# ---- execution on the host CPU ---------------------------------------------------------------------
class Native:
    """Runs one instruction on this CPU: a harness at 0xff000 loads the 15 GPRs (all but RSP) and
    RFLAGS from a state block, jumps to the instruction at CODE_ADDR, and stores them back."""

    HARNESS = 0xff000
    STATE = 0xff800
    SAVED_RSP = 0xff900
    ORDER = [r for r in GPRS if r != "rsp"]

    def __init__(self):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
        MAP_PRIVATE, MAP_ANON, MAP_FIXED_NOREPLACE = 0x02, 0x20, 0x100000
        for addr, size, prot in [(self.HARNESS, 0x2000, 7), (DATA_ADDR, DATA_SIZE, 3)]:
            got = libc.mmap(addr, size, prot, MAP_PRIVATE | MAP_ANON | MAP_FIXED_NOREPLACE, -1, 0)
            if got != addr:
                raise OSError(f"cannot map {addr:#x} in this process (got {got})")
        self.fn = ctypes.CFUNCTYPE(None)(self.HARNESS)
        pro = bytearray(b"\x53\x55\x41\x54\x41\x55\x41\x56\x41\x57")  # push rbx rbp r12 r13 r14 r15
        pro += self._mov_store(4, self.SAVED_RSP)
        pro += b"\xff\x34\x25" + (self.STATE + 8 * 15).to_bytes(4, "little") + b"\x9d"  # push [fl]; popfq
        for i, r in enumerate(self.ORDER):
            pro += self._mov_load(GPRS.index(r), self.STATE + 8 * i)
        pro += b"\xe9" + ((CODE_ADDR - (self.HARNESS + len(pro) + 5)) & 0xffffffff).to_bytes(4, "little")
        ctypes.memmove(self.HARNESS, bytes(pro), len(pro))
        epi = bytearray()
        for i, r in enumerate(self.ORDER):
            epi += self._mov_store(GPRS.index(r), self.STATE + 8 * i)
        epi += b"\x9c\x8f\x04\x25" + (self.STATE + 8 * 15).to_bytes(4, "little")  # pushfq; pop [fl]
        epi += b"\xfc" + self._mov_load(4, self.SAVED_RSP)  # cld; mov rsp, [saved]
        epi += b"\x41\x5f\x41\x5e\x41\x5d\x41\x5c\x5d\x5b\xc3"
        self.epi = bytes(epi)

    @staticmethod
    def _modrm_abs(op, reg, addr):
        rex = 0x48 | (0x04 if reg >= 8 else 0)
        return bytes([rex, op, 0x04 | ((reg & 7) << 3), 0x25]) + addr.to_bytes(4, "little")

    def _mov_load(self, reg, addr):
        return self._modrm_abs(0x8B, reg, addr)

    def _mov_store(self, reg, addr):
        return self._modrm_abs(0x89, reg, addr)

    def run(self, e, code, st):
        blob = code + self.epi
        ctypes.memmove(CODE_ADDR, blob, len(blob))
        vals = [st.regs.get(r, 0) for r in self.ORDER] + [st.rflags]
        buf = (ctypes.c_uint64 * 16)(*vals)
        ctypes.memmove(self.STATE, buf, 128)
        ctypes.memset(DATA_ADDR, 0, DATA_SIZE)
        if e.window:
            a, n = e.window
            ctypes.memmove(a, bytes(st.mem.get(a + i, 0) for i in range(n)), n)
        self.fn()
        ctypes.memmove(buf, self.STATE, 128)
        regs = dict(zip(self.ORDER, buf[:15]))
        regs["rsp"] = 0
        mem = ctypes.string_at(e.window[0], e.window[1]) if e.window else None
        return regs, buf[15], mem


# ---- main ---------------------------------------------------------------------------------------
def assemble(asms):
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "a.s")
        with open(src, "w") as f:
            f.write(".intel_syntax noprefix\n")
            for a in asms:
                f.write(a + "\n")
        subprocess.run(["as", "--64", "-o", os.path.join(d, "a.o"), src], check=True)
        out = subprocess.run(["objdump", "-d", "-M", "intel", "--insn-width=16", os.path.join(d, "a.o")],
                             check=True, capture_output=True, text=True).stdout
    lines = [ln for ln in out.splitlines() if re.match(r"^\s+[0-9a-f]+:\t", ln)]
    if len(lines) != len(asms):
        raise RuntimeError(f"objdump listed {len(lines)} instructions for {len(asms)} lines")
    return {a: ln.split("\t")[1].replace(" ", "") for a, ln in zip(asms, lines)}


def rewrite_encodings(enc):
    path = os.path.abspath(__file__)
    text = open(path).read()
    body = "".join(f"    {json.dumps(a)}: {json.dumps(b)},\n" for a, b in enc.items())
    new = re.sub(r"(# BEGIN ENCODINGS\nENCODINGS = \{\n).*?(\}\n# END ENCODINGS)",
                 lambda m: m.group(1) + body + m.group(2), text, flags=re.S)
    open(path, "w").write(new)


def h64(v):
    return f"0x{v:016x}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test",
                                                  "fixtures", "x86-vectors.json"))
    ap.add_argument("--native", choices=["auto", "on", "off"], default="auto")
    ap.add_argument("--assemble", action="store_true", help="rewrite the ENCODINGS table with GNU as, then exit")
    args = ap.parse_args()

    for g in (gen_alu, gen_unary, gen_shifts, gen_double_shifts, gen_muldiv, gen_bits, gen_xchg, gen_moves,
              gen_cond, gen_lea, gen_string):
        g()
    asms = list(dict.fromkeys(e.asm for e in ENTRIES))
    if args.assemble:
        rewrite_encodings(assemble(asms))
        print(f"rewrote {len(asms)} encodings", file=sys.stderr)
        return
    missing = [a for a in asms if a not in ENCODINGS]
    if missing:
        sys.exit(f"no encoding for {missing[:5]}...: run with --assemble")

    import unicorn
    native = None
    if args.native == "on" or (args.native == "auto" and platform.machine() == "x86_64" and sys.platform == "linux"):
        native = Native()
    out, counts, disagree, undef_diffs, native_only, skipped = [], {}, [], {}, [], []
    for e in ENTRIES:
        code = bytes.fromhex(ENCODINGS[e.asm])
        e._uc = None
        for st in e.vectors:
            source = None
            try:
                regs, flags, mem = run_unicorn(e, code, st)
            except unicorn.UcError as err:
                if "INSN_INVALID" not in str(err):
                    raise RuntimeError(f"{e.asm}: {err}")
                if native is None:
                    skipped.append(e.asm)
                    continue
                regs, flags, mem = native.run(e, code, st)
                source = "native"
                if e.asm not in native_only:
                    native_only.append(e.asm)
            fm = e.masker(st)
            und = e.undef(st) if e.undef else []
            for r in GPRS:
                if r not in e.regs and regs[r] != 0:
                    raise RuntimeError(f"{e.asm}: unlisted register {r} changed")
            if native is None and unicorn_known_wrong(e, st):
                skipped.append(e.asm)
                continue
            if native is not None and source is None:
                nregs, nflags, nmem = native.run(e, code, st)
                bad = [r for r in e.regs if r not in und and regs[r] != nregs[r]]
                if (flags ^ nflags) & fm:
                    bad.append(f"rflags&{fm:#x}: unicorn {flags:#x} cpu {nflags:#x}")
                if mem != nmem:
                    bad.append("memory")
                if bad:
                    # The CPU is the reference for architecturally defined state.
                    disagree.append((e.asm, st, bad, regs, nregs))
                    regs, flags, mem, source = nregs, nflags, nmem, "native"
                else:
                    diff = [r for r in und if regs[r] != nregs[r]]
                    if (flags ^ nflags) & ~fm & STATUS or diff:
                        undef_diffs[e.asm] = undef_diffs.get(e.asm, 0) + 1
            if source == "native":
                flags = (flags & ALLDEF) | 0x2  # drop IF and other system bits the harness sees
            v = {"group": e.group, "asm": e.asm, "bytes": ENCODINGS[e.asm],
                 "in": {r: h64(st.regs.get(r, 0)) for r in sorted(e.regs, key=GPRS.index)},
                 "rflagsIn": hex(st.rflags),
                 "out": {r: h64(regs[r]) for r in sorted(e.regs, key=GPRS.index)},
                 "rflagsOut": hex(flags), "flagsMask": hex(fm)}
            if und:
                v["undefRegs"] = und
            if e.window:
                a, n = e.window
                v["mem"] = {"addr": hex(a), "before": bytes(st.mem.get(a + i, 0) for i in range(n)).hex(),
                            "after": mem.hex()}
            if source:
                v["source"] = source
            out.append(v)
            counts[e.group] = counts.get(e.group, 0) + 1
        e._uc = None
    doc = {"schema": 1, "generator": "scripts/gen-unicorn-vectors.py", "engine": f"unicorn {unicorn.__version__}",
           "codeAddress": hex(CODE_ADDR), "dataAddress": hex(DATA_ADDR), "dataSize": DATA_SIZE,
           "flagBits": FLAG_BITS, "registers": GPRS, "counts": counts, "vectors": out}
    with open(args.out, "w") as f:
        f.write("{\n")
        for k, val in doc.items():
            if k != "vectors":
                f.write(f"  {json.dumps(k)}: {json.dumps(val)},\n")
        f.write('  "vectors": [\n')
        f.write(",\n".join("    " + json.dumps(v, separators=(",", ":")) for v in out))
        f.write("\n  ]\n}\n")
    print(f"wrote {len(out)} vectors for {len(asms)} instructions to {os.path.relpath(args.out)}", file=sys.stderr)
    for g, n in counts.items():
        print(f"  {g:12s} {n}", file=sys.stderr)
    if native_only:
        print(f"taken from the host CPU (Unicorn: invalid instruction): {native_only}", file=sys.stderr)
    if skipped:
        print(f"SKIPPED {len(skipped)} vectors (no host CPU to take them from): {sorted(set(skipped))}",
              file=sys.stderr)
    if disagree:
        print(f"{len(disagree)} vectors where Unicorn disagrees with the host CPU on defined state "
              "(recorded from the CPU):", file=sys.stderr)
        seen = {}
        for asm, st, bad, regs, nregs in disagree:
            seen.setdefault(asm, []).append((st, bad, regs, nregs))
        for asm, lst in seen.items():
            for st, bad, regs, nregs in lst[:int(os.environ.get("SHOW_DISAGREEMENTS", "2"))]:
                detail = "; ".join(b if b.startswith(("rflags", "memory")) else
                                   f"{b}: in {st.regs.get(b, 0):#x} unicorn {regs[b]:#x} cpu {nregs[b]:#x}"
                                   for b in bad)
                print(f"  {asm} ({len(lst)} vectors), e.g. flags in {st.rflags:#x}: {detail}", file=sys.stderr)
    if undef_diffs:
        print("undefined state differing between Unicorn and the host CPU (masked out, fine):", file=sys.stderr)
        print("  " + ", ".join(f"{a} ({n})" for a, n in undef_diffs.items()), file=sys.stderr)


# The machine code of every instruction, derived with GNU as (--assemble rewrites this table).
# BEGIN ENCODINGS
ENCODINGS = {
    "add al, bl": "00d8",
    "add cl, dh": "00f1",
    "add al, 0x80": "0480",
    "add bl, 0x7f": "80c37f",
    "add ax, bx": "6601d8",
    "add r8w, dx": "664101d0",
    "add ax, 0x8000": "66050080",
    "add dx, -0x2": "6683c2fe",
    "add eax, ebx": "01d8",
    "add r11d, esi": "4101f3",
    "add eax, 0x12345678": "0578563412",
    "add ecx, -0x80": "83c180",
    "add rax, rbx": "4801d8",
    "add r12, r13": "4d01ec",
    "add rax, -0x80000000": "480500000080",
    "add rdx, 0x7fffffff": "4881c2ffffff7f",
    "add r9, -0x1": "4983c1ff",
    "adc al, bl": "10d8",
    "adc sil, r9b": "4410ce",
    "adc al, 0x80": "1480",
    "adc bl, 0x7f": "80d37f",
    "adc ax, bx": "6611d8",
    "adc si, r15w": "664411fe",
    "adc ax, 0x8000": "66150080",
    "adc dx, -0x2": "6683d2fe",
    "adc eax, ebx": "11d8",
    "adc ecx, r8d": "4411c1",
    "adc eax, 0x12345678": "1578563412",
    "adc ecx, -0x80": "83d180",
    "adc rax, rbx": "4811d8",
    "adc rdi, r15": "4c11ff",
    "adc rax, -0x80000000": "481500000080",
    "adc rdx, 0x7fffffff": "4881d2ffffff7f",
    "adc r9, -0x1": "4983d1ff",
    "sub al, bl": "28d8",
    "sub r10b, dil": "4128fa",
    "sub al, 0x80": "2c80",
    "sub bl, 0x7f": "80eb7f",
    "sub ax, bx": "6629d8",
    "sub r8w, dx": "664129d0",
    "sub ax, 0x8000": "662d0080",
    "sub dx, -0x2": "6683eafe",
    "sub eax, ebx": "29d8",
    "sub r11d, esi": "4129f3",
    "sub eax, 0x12345678": "2d78563412",
    "sub ecx, -0x80": "83e980",
    "sub rax, rbx": "4829d8",
    "sub rbp, rsi": "4829f5",
    "sub rax, -0x80000000": "482d00000080",
    "sub rdx, 0x7fffffff": "4881eaffffff7f",
    "sub r9, -0x1": "4983e9ff",
    "sbb al, bl": "18d8",
    "sbb ah, bh": "18fc",
    "sbb al, 0x80": "1c80",
    "sbb bl, 0x7f": "80db7f",
    "sbb ax, bx": "6619d8",
    "sbb si, r15w": "664419fe",
    "sbb ax, 0x8000": "661d0080",
    "sbb dx, -0x2": "6683dafe",
    "sbb eax, ebx": "19d8",
    "sbb ecx, r8d": "4419c1",
    "sbb eax, 0x12345678": "1d78563412",
    "sbb ecx, -0x80": "83d980",
    "sbb rax, rbx": "4819d8",
    "sbb r12, r13": "4d19ec",
    "sbb rax, -0x80000000": "481d00000080",
    "sbb rdx, 0x7fffffff": "4881daffffff7f",
    "sbb r9, -0x1": "4983d9ff",
    "cmp al, bl": "38d8",
    "cmp cl, dh": "38f1",
    "cmp al, 0x80": "3c80",
    "cmp bl, 0x7f": "80fb7f",
    "cmp ax, bx": "6639d8",
    "cmp r8w, dx": "664139d0",
    "cmp ax, 0x8000": "663d0080",
    "cmp dx, -0x2": "6683fafe",
    "cmp eax, ebx": "39d8",
    "cmp r11d, esi": "4139f3",
    "cmp eax, 0x12345678": "3d78563412",
    "cmp ecx, -0x80": "83f980",
    "cmp rax, rbx": "4839d8",
    "cmp rdi, r15": "4c39ff",
    "cmp rax, -0x80000000": "483d00000080",
    "cmp rdx, 0x7fffffff": "4881faffffff7f",
    "cmp r9, -0x1": "4983f9ff",
    "and al, bl": "20d8",
    "and sil, r9b": "4420ce",
    "and al, 0x80": "2480",
    "and bl, 0x7f": "80e37f",
    "and ax, bx": "6621d8",
    "and si, r15w": "664421fe",
    "and ax, 0x8000": "66250080",
    "and dx, -0x2": "6683e2fe",
    "and eax, ebx": "21d8",
    "and ecx, r8d": "4421c1",
    "and eax, 0x12345678": "2578563412",
    "and ecx, -0x80": "83e180",
    "and rax, rbx": "4821d8",
    "and rbp, rsi": "4821f5",
    "and rax, -0x80000000": "482500000080",
    "and rdx, 0x7fffffff": "4881e2ffffff7f",
    "and r9, -0x1": "4983e1ff",
    "or al, bl": "08d8",
    "or r10b, dil": "4108fa",
    "or al, 0x80": "0c80",
    "or bl, 0x7f": "80cb7f",
    "or ax, bx": "6609d8",
    "or r8w, dx": "664109d0",
    "or ax, 0x8000": "660d0080",
    "or dx, -0x2": "6683cafe",
    "or eax, ebx": "09d8",
    "or r11d, esi": "4109f3",
    "or eax, 0x12345678": "0d78563412",
    "or ecx, -0x80": "83c980",
    "or rax, rbx": "4809d8",
    "or r12, r13": "4d09ec",
    "or rax, -0x80000000": "480d00000080",
    "or rdx, 0x7fffffff": "4881caffffff7f",
    "or r9, -0x1": "4983c9ff",
    "xor al, bl": "30d8",
    "xor ah, bh": "30fc",
    "xor al, 0x80": "3480",
    "xor bl, 0x7f": "80f37f",
    "xor ax, bx": "6631d8",
    "xor si, r15w": "664431fe",
    "xor ax, 0x8000": "66350080",
    "xor dx, -0x2": "6683f2fe",
    "xor eax, ebx": "31d8",
    "xor ecx, r8d": "4431c1",
    "xor eax, 0x12345678": "3578563412",
    "xor ecx, -0x80": "83f180",
    "xor rax, rbx": "4831d8",
    "xor rdi, r15": "4c31ff",
    "xor rax, -0x80000000": "483500000080",
    "xor rdx, 0x7fffffff": "4881f2ffffff7f",
    "xor r9, -0x1": "4983f1ff",
    "test al, bl": "84d8",
    "test cl, dh": "84f1",
    "test al, 0x80": "a880",
    "test bl, 0x7f": "f6c37f",
    "test ax, bx": "6685d8",
    "test r8w, dx": "664185d0",
    "test ax, 0x8000": "66a90080",
    "test dx, -0x2": "66f7c2feff",
    "test eax, ebx": "85d8",
    "test r11d, esi": "4185f3",
    "test eax, 0x12345678": "a978563412",
    "test ecx, -0x80": "f7c180ffffff",
    "test rax, rbx": "4885d8",
    "test rbp, rsi": "4885f5",
    "test rax, -0x80000000": "48a900000080",
    "test rdx, 0x7fffffff": "48f7c2ffffff7f",
    "test r9, -0x1": "49f7c1ffffffff",
    "{load} add eax, ebx": "03c3",
    "{load} sub eax, ebx": "2bc3",
    "{load} xor eax, ebx": "33c3",
    "xor eax, eax": "31c0",
    "sub rcx, rcx": "4829c9",
    "add al, ah": "00e0",
    "cmp rdx, rdx": "4839d2",
    "adc ebx, ebx": "11db",
    "sbb r8d, r8d": "4519c0",
    "and sil, sil": "4020f6",
    "or ax, ax": "6609c0",
    "add qword ptr [rbx+8], rax": "48014308",
    "sub dword ptr [rbx], ecx": "290b",
    "and byte ptr [rbx+rsi*1+3], dl": "20543303",
    "cmp rax, qword ptr [rbx]": "483b03",
    "adc word ptr [rbx+rdi*2-2], r9w": "6644114c7bfe",
    "xor ecx, dword ptr [rbx+0x10]": "334b10",
    "or word ptr [rbx], 0x1234": "66810b3412",
    "test byte ptr [rbx+1], 0x81": "f6430181",
    "inc al": "fec0",
    "inc r11b": "41fec3",
    "inc ch": "fec5",
    "inc cx": "66ffc1",
    "inc r14w": "6641ffc6",
    "inc edx": "ffc2",
    "inc r9d": "41ffc1",
    "inc rsi": "48ffc6",
    "inc r10": "49ffc2",
    "dec al": "fec8",
    "dec r11b": "41fecb",
    "dec ch": "fecd",
    "dec cx": "66ffc9",
    "dec r14w": "6641ffce",
    "dec edx": "ffca",
    "dec r9d": "41ffc9",
    "dec rsi": "48ffce",
    "dec r10": "49ffca",
    "neg al": "f6d8",
    "neg r11b": "41f6db",
    "neg ch": "f6dd",
    "neg cx": "66f7d9",
    "neg r14w": "6641f7de",
    "neg edx": "f7da",
    "neg r9d": "41f7d9",
    "neg rsi": "48f7de",
    "neg r10": "49f7da",
    "not al": "f6d0",
    "not r11b": "41f6d3",
    "not ch": "f6d5",
    "not cx": "66f7d1",
    "not r14w": "6641f7d6",
    "not edx": "f7d2",
    "not r9d": "41f7d1",
    "not rsi": "48f7d6",
    "not r10": "49f7d2",
    "inc dword ptr [rbx]": "ff03",
    "dec word ptr [rbx+2]": "66ff4b02",
    "neg qword ptr [rbx+8]": "48f75b08",
    "not byte ptr [rbx+1]": "f65301",
    "shl bl, 1": "d0e3",
    "shl bl, 0": "c0e300",
    "shl bl, 3": "c0e303",
    "shl bl, 8": "c0e308",
    "shl bl, 9": "c0e309",
    "shl bl, 31": "c0e31f",
    "shl bl, cl": "d2e3",
    "shl ah, 1": "d0e4",
    "shl dx, 1": "66d1e2",
    "shl dx, 0": "66c1e200",
    "shl dx, 5": "66c1e205",
    "shl dx, 16": "66c1e210",
    "shl dx, 17": "66c1e211",
    "shl dx, cl": "66d3e2",
    "shl esi, 1": "d1e6",
    "shl esi, 0": "c1e600",
    "shl esi, 7": "c1e607",
    "shl esi, 31": "c1e61f",
    "shl esi, 32": "c1e620",
    "shl esi, cl": "d3e6",
    "shl r8, 1": "49d1e0",
    "shl r8, 0": "49c1e000",
    "shl r8, 13": "49c1e00d",
    "shl r8, 63": "49c1e03f",
    "shl r8, 64": "49c1e040",
    "shl r8, 255": "49c1e0ff",
    "shl r8, cl": "49d3e0",
    "shr bl, 1": "d0eb",
    "shr bl, 0": "c0eb00",
    "shr bl, 3": "c0eb03",
    "shr bl, 8": "c0eb08",
    "shr bl, 9": "c0eb09",
    "shr bl, 31": "c0eb1f",
    "shr bl, cl": "d2eb",
    "shr ah, 1": "d0ec",
    "shr dx, 1": "66d1ea",
    "shr dx, 0": "66c1ea00",
    "shr dx, 5": "66c1ea05",
    "shr dx, 16": "66c1ea10",
    "shr dx, 17": "66c1ea11",
    "shr dx, cl": "66d3ea",
    "shr esi, 1": "d1ee",
    "shr esi, 0": "c1ee00",
    "shr esi, 7": "c1ee07",
    "shr esi, 31": "c1ee1f",
    "shr esi, 32": "c1ee20",
    "shr esi, cl": "d3ee",
    "shr r8, 1": "49d1e8",
    "shr r8, 0": "49c1e800",
    "shr r8, 13": "49c1e80d",
    "shr r8, 63": "49c1e83f",
    "shr r8, 64": "49c1e840",
    "shr r8, 255": "49c1e8ff",
    "shr r8, cl": "49d3e8",
    "sar bl, 1": "d0fb",
    "sar bl, 0": "c0fb00",
    "sar bl, 3": "c0fb03",
    "sar bl, 8": "c0fb08",
    "sar bl, 9": "c0fb09",
    "sar bl, 31": "c0fb1f",
    "sar bl, cl": "d2fb",
    "sar ah, 1": "d0fc",
    "sar dx, 1": "66d1fa",
    "sar dx, 0": "66c1fa00",
    "sar dx, 5": "66c1fa05",
    "sar dx, 16": "66c1fa10",
    "sar dx, 17": "66c1fa11",
    "sar dx, cl": "66d3fa",
    "sar esi, 1": "d1fe",
    "sar esi, 0": "c1fe00",
    "sar esi, 7": "c1fe07",
    "sar esi, 31": "c1fe1f",
    "sar esi, 32": "c1fe20",
    "sar esi, cl": "d3fe",
    "sar r8, 1": "49d1f8",
    "sar r8, 0": "49c1f800",
    "sar r8, 13": "49c1f80d",
    "sar r8, 63": "49c1f83f",
    "sar r8, 64": "49c1f840",
    "sar r8, 255": "49c1f8ff",
    "sar r8, cl": "49d3f8",
    "rol bl, 1": "d0c3",
    "rol bl, 0": "c0c300",
    "rol bl, 3": "c0c303",
    "rol bl, 8": "c0c308",
    "rol bl, 9": "c0c309",
    "rol bl, 31": "c0c31f",
    "rol bl, cl": "d2c3",
    "rol ah, 1": "d0c4",
    "rol dx, 1": "66d1c2",
    "rol dx, 0": "66c1c200",
    "rol dx, 5": "66c1c205",
    "rol dx, 16": "66c1c210",
    "rol dx, 17": "66c1c211",
    "rol dx, cl": "66d3c2",
    "rol esi, 1": "d1c6",
    "rol esi, 0": "c1c600",
    "rol esi, 7": "c1c607",
    "rol esi, 31": "c1c61f",
    "rol esi, 32": "c1c620",
    "rol esi, cl": "d3c6",
    "rol r8, 1": "49d1c0",
    "rol r8, 0": "49c1c000",
    "rol r8, 13": "49c1c00d",
    "rol r8, 63": "49c1c03f",
    "rol r8, 64": "49c1c040",
    "rol r8, 255": "49c1c0ff",
    "rol r8, cl": "49d3c0",
    "ror bl, 1": "d0cb",
    "ror bl, 0": "c0cb00",
    "ror bl, 3": "c0cb03",
    "ror bl, 8": "c0cb08",
    "ror bl, 9": "c0cb09",
    "ror bl, 31": "c0cb1f",
    "ror bl, cl": "d2cb",
    "ror ah, 1": "d0cc",
    "ror dx, 1": "66d1ca",
    "ror dx, 0": "66c1ca00",
    "ror dx, 5": "66c1ca05",
    "ror dx, 16": "66c1ca10",
    "ror dx, 17": "66c1ca11",
    "ror dx, cl": "66d3ca",
    "ror esi, 1": "d1ce",
    "ror esi, 0": "c1ce00",
    "ror esi, 7": "c1ce07",
    "ror esi, 31": "c1ce1f",
    "ror esi, 32": "c1ce20",
    "ror esi, cl": "d3ce",
    "ror r8, 1": "49d1c8",
    "ror r8, 0": "49c1c800",
    "ror r8, 13": "49c1c80d",
    "ror r8, 63": "49c1c83f",
    "ror r8, 64": "49c1c840",
    "ror r8, 255": "49c1c8ff",
    "ror r8, cl": "49d3c8",
    "rcl bl, 1": "d0d3",
    "rcl bl, 0": "c0d300",
    "rcl bl, 3": "c0d303",
    "rcl bl, 8": "c0d308",
    "rcl bl, 9": "c0d309",
    "rcl bl, 31": "c0d31f",
    "rcl bl, cl": "d2d3",
    "rcl ah, 1": "d0d4",
    "rcl dx, 1": "66d1d2",
    "rcl dx, 0": "66c1d200",
    "rcl dx, 5": "66c1d205",
    "rcl dx, 16": "66c1d210",
    "rcl dx, 17": "66c1d211",
    "rcl dx, cl": "66d3d2",
    "rcl esi, 1": "d1d6",
    "rcl esi, 0": "c1d600",
    "rcl esi, 7": "c1d607",
    "rcl esi, 31": "c1d61f",
    "rcl esi, 32": "c1d620",
    "rcl esi, cl": "d3d6",
    "rcl r8, 1": "49d1d0",
    "rcl r8, 0": "49c1d000",
    "rcl r8, 13": "49c1d00d",
    "rcl r8, 63": "49c1d03f",
    "rcl r8, 64": "49c1d040",
    "rcl r8, 255": "49c1d0ff",
    "rcl r8, cl": "49d3d0",
    "rcr bl, 1": "d0db",
    "rcr bl, 0": "c0db00",
    "rcr bl, 3": "c0db03",
    "rcr bl, 8": "c0db08",
    "rcr bl, 9": "c0db09",
    "rcr bl, 31": "c0db1f",
    "rcr bl, cl": "d2db",
    "rcr ah, 1": "d0dc",
    "rcr dx, 1": "66d1da",
    "rcr dx, 0": "66c1da00",
    "rcr dx, 5": "66c1da05",
    "rcr dx, 16": "66c1da10",
    "rcr dx, 17": "66c1da11",
    "rcr dx, cl": "66d3da",
    "rcr esi, 1": "d1de",
    "rcr esi, 0": "c1de00",
    "rcr esi, 7": "c1de07",
    "rcr esi, 31": "c1de1f",
    "rcr esi, 32": "c1de20",
    "rcr esi, cl": "d3de",
    "rcr r8, 1": "49d1d8",
    "rcr r8, 0": "49c1d800",
    "rcr r8, 13": "49c1d80d",
    "rcr r8, 63": "49c1d83f",
    "rcr r8, 64": "49c1d840",
    "rcr r8, 255": "49c1d8ff",
    "rcr r8, cl": "49d3d8",
    "shl dword ptr [rbx], cl": "d323",
    "sar qword ptr [rbx+8], 1": "48d17b08",
    "rcr byte ptr [rbx], 3": "c01b03",
    "rol word ptr [rbx+2], cl": "66d34302",
    "shld ax, bx, 1": "660fa4d801",
    "shld ax, bx, 4": "660fa4d804",
    "shld ax, bx, 15": "660fa4d80f",
    "shld ax, bx, 16": "660fa4d810",
    "shld ax, bx, cl": "660fa5d8",
    "shld ecx, r9d, 1": "440fa4c901",
    "shld ecx, r9d, 12": "440fa4c90c",
    "shld ecx, r9d, 31": "440fa4c91f",
    "shld ecx, r9d, cl": "440fa5c9",
    "shld rdx, rsi, 1": "480fa4f201",
    "shld rdx, rsi, 40": "480fa4f228",
    "shld rdx, rsi, 63": "480fa4f23f",
    "shld rdx, rsi, cl": "480fa5f2",
    "shrd ax, bx, 1": "660facd801",
    "shrd ax, bx, 4": "660facd804",
    "shrd ax, bx, 15": "660facd80f",
    "shrd ax, bx, 16": "660facd810",
    "shrd ax, bx, cl": "660fadd8",
    "shrd ecx, r9d, 1": "440facc901",
    "shrd ecx, r9d, 12": "440facc90c",
    "shrd ecx, r9d, 31": "440facc91f",
    "shrd ecx, r9d, cl": "440fadc9",
    "shrd rdx, rsi, 1": "480facf201",
    "shrd rdx, rsi, 40": "480facf228",
    "shrd rdx, rsi, 63": "480facf23f",
    "shrd rdx, rsi, cl": "480fadf2",
    "shld qword ptr [rbx], rax, cl": "480fa503",
    "mul cl": "f6e1",
    "mul bx": "66f7e3",
    "mul r9d": "41f7e1",
    "mul rsi": "48f7e6",
    "imul cl": "f6e9",
    "imul bx": "66f7eb",
    "imul r9d": "41f7e9",
    "imul rsi": "48f7ee",
    "imul ax, bx": "660fafc3",
    "imul eax, ebx": "0fafc3",
    "imul rax, rbx": "480fafc3",
    "imul r10, r11": "4d0fafd3",
    "imul ecx, ebx, 0x7f": "6bcb7f",
    "imul rdx, rsi, -0x12345678": "4869d688a9cbed",
    "imul ax, bx, 0x1234": "6669c33412",
    "imul r8, r9, -1": "4d6bc1ff",
    "imul edi, edi, 0x10000": "69ff00000100",
    "div cl": "f6f1",
    "div bx": "66f7f3",
    "div r9d": "41f7f1",
    "div rsi": "48f7f6",
    "idiv cl": "f6f9",
    "idiv bx": "66f7fb",
    "idiv r9d": "41f7f9",
    "idiv rsi": "48f7fe",
    "mul qword ptr [rbx]": "48f723",
    "imul rax, qword ptr [rbx], 7": "486b0307",
    "imul ecx, dword ptr [rbx+4]": "0faf4b04",
    "div dword ptr [rbx+8]": "f77308",
    "bt ax, bx": "660fa3d8",
    "bt ax, 0": "660fbae000",
    "bt ax, 15": "660fbae00f",
    "bt ax, 19": "660fbae013",
    "bt ecx, edx": "0fa3d1",
    "bt ecx, 0": "0fbae100",
    "bt ecx, 31": "0fbae11f",
    "bt ecx, 35": "0fbae123",
    "bt rsi, r12": "4c0fa3e6",
    "bt rsi, 0": "480fbae600",
    "bt rsi, 63": "480fbae63f",
    "bt rsi, 67": "480fbae643",
    "bts ax, bx": "660fabd8",
    "bts ax, 15": "660fbae80f",
    "bts ax, 5": "660fbae805",
    "bts ecx, edx": "0fabd1",
    "bts ecx, 31": "0fbae91f",
    "bts ecx, 5": "0fbae905",
    "bts rsi, r12": "4c0fabe6",
    "bts rsi, 63": "480fbaee3f",
    "bts rsi, 5": "480fbaee05",
    "btr ax, bx": "660fb3d8",
    "btr ax, 15": "660fbaf00f",
    "btr ax, 5": "660fbaf005",
    "btr ecx, edx": "0fb3d1",
    "btr ecx, 31": "0fbaf11f",
    "btr ecx, 5": "0fbaf105",
    "btr rsi, r12": "4c0fb3e6",
    "btr rsi, 63": "480fbaf63f",
    "btr rsi, 5": "480fbaf605",
    "btc ax, bx": "660fbbd8",
    "btc ax, 15": "660fbaf80f",
    "btc ax, 5": "660fbaf805",
    "btc ecx, edx": "0fbbd1",
    "btc ecx, 31": "0fbaf91f",
    "btc ecx, 5": "0fbaf905",
    "btc rsi, r12": "4c0fbbe6",
    "btc rsi, 63": "480fbafe3f",
    "btc rsi, 5": "480fbafe05",
    "bt qword ptr [rbx], rax": "480fa303",
    "bts dword ptr [rbx], ecx": "0fab0b",
    "btr qword ptr [rbx], rdx": "480fb313",
    "btc word ptr [rbx], si": "660fbb33",
    "bts qword ptr [rbx], 70": "480fba2b46",
    "btr dword ptr [rbx+4], 3": "0fba730403",
    "bsf cx, r8w": "66410fbcc8",
    "bsf eax, ebx": "0fbcc3",
    "bsf rdx, r13": "490fbcd5",
    "bsr cx, r8w": "66410fbdc8",
    "bsr eax, ebx": "0fbdc3",
    "bsr rdx, r13": "490fbdd5",
    "lzcnt cx, r8w": "66f3410fbdc8",
    "lzcnt eax, ebx": "f30fbdc3",
    "lzcnt rdx, r13": "f3490fbdd5",
    "tzcnt cx, r8w": "66f3410fbcc8",
    "tzcnt eax, ebx": "f30fbcc3",
    "tzcnt rdx, r13": "f3490fbcd5",
    "popcnt cx, r8w": "66f3410fb8c8",
    "popcnt eax, ebx": "f30fb8c3",
    "popcnt rdx, r13": "f3490fb8d5",
    "tzcnt ax, word ptr [rbx+2]": "66f30fbc4302",
    "bswap eax": "0fc8",
    "bswap r12d": "410fcc",
    "bswap rax": "480fc8",
    "bswap r9": "490fc9",
    "bswap edi": "0fcf",
    "bswap r15": "490fcf",
    "xchg rax, rbx": "4893",
    "xchg ecx, edx": "87d1",
    "xchg al, bh": "86f8",
    "xchg ax, r9w": "664191",
    "xchg eax, eax": "87c0",
    "nop": "90",
    "xchg r8, rax": "4990",
    "xchg esi, eax": "96",
    "xadd bl, cl": "0fc0cb",
    "xadd dx, si": "660fc1f2",
    "xadd edi, r10d": "440fc1d7",
    "xadd r11, rax": "490fc1c3",
    "cmpxchg bl, cl": "0fb0cb",
    "cmpxchg dx, si": "660fb1f2",
    "cmpxchg ecx, edx": "0fb1d1",
    "cmpxchg r11, rbx": "490fb1db",
    "xchg qword ptr [rbx], rcx": "48870b",
    "lock xadd dword ptr [rbx], eax": "f00fc103",
    "lock cmpxchg qword ptr [rbx+8], rcx": "f0480fb14b08",
    "movsx eax, bl": "0fbec3",
    "movsx ecx, ah": "0fbecc",
    "movsx rdx, r9b": "490fbed1",
    "movsx ax, bl": "660fbec3",
    "movsx esi, di": "0fbff7",
    "movsx r8, ax": "4c0fbfc0",
    "movzx eax, bl": "0fb6c3",
    "movzx ecx, ah": "0fb6cc",
    "movzx r10, dil": "4c0fb6d7",
    "movzx ax, bl": "660fb6c3",
    "movzx edx, si": "0fb7d6",
    "movzx rax, r11w": "490fb7c3",
    "movsxd rax, ebx": "4863c3",
    "movsxd r9, r10d": "4d63ca",
    "mov eax, ebx": "89d8",
    "mov ax, bx": "6689d8",
    "mov ah, cl": "88cc",
    "mov r12b, sil": "4188f4",
    "mov rax, rbx": "4889d8",
    "mov eax, 0x80000000": "b800000080",
    "mov rax, -1": "48c7c0ffffffff",
    "mov rax, 0x8000000000000000": "48b80000000000000080",
    "mov ax, 0x1234": "66b83412",
    "mov bh, 0x9a": "b79a",
    "mov r13d, -2": "41bdfeffffff",
    "movzx eax, word ptr [rbx+rcx*2+4]": "0fb7444b04",
    "movsx rax, byte ptr [rbx]": "480fbe03",
    "movsxd rdx, dword ptr [rbx+8]": "48635308",
    "mov qword ptr [rbx+0x18], rdx": "48895318",
    "mov dword ptr [rbx+4], -1": "c74304ffffffff",
    "mov word ptr [rbx+2], ax": "66894302",
    "mov cl, byte ptr [rbx+rcx*1-6]": "8a4c0bfa",
    "cbw": "6698",
    "cwde": "98",
    "cdqe": "4898",
    "cwd": "6699",
    "cdq": "99",
    "cqo": "4899",
    "seto al": "0f90c0",
    "seto r10b": "410f90c2",
    "cmovo rax, rbx": "480f40c3",
    "cmovo ecx, edx": "0f40ca",
    "cmovo si, r9w": "66410f40f1",
    "setno al": "0f91c0",
    "setno r10b": "410f91c2",
    "cmovno rax, rbx": "480f41c3",
    "cmovno ecx, edx": "0f41ca",
    "cmovno si, r9w": "66410f41f1",
    "setb al": "0f92c0",
    "setb r10b": "410f92c2",
    "cmovb rax, rbx": "480f42c3",
    "cmovb ecx, edx": "0f42ca",
    "cmovb si, r9w": "66410f42f1",
    "setae al": "0f93c0",
    "setae r10b": "410f93c2",
    "cmovae rax, rbx": "480f43c3",
    "cmovae ecx, edx": "0f43ca",
    "cmovae si, r9w": "66410f43f1",
    "sete al": "0f94c0",
    "sete r10b": "410f94c2",
    "cmove rax, rbx": "480f44c3",
    "cmove ecx, edx": "0f44ca",
    "cmove si, r9w": "66410f44f1",
    "setne al": "0f95c0",
    "setne r10b": "410f95c2",
    "cmovne rax, rbx": "480f45c3",
    "cmovne ecx, edx": "0f45ca",
    "cmovne si, r9w": "66410f45f1",
    "setbe al": "0f96c0",
    "setbe r10b": "410f96c2",
    "cmovbe rax, rbx": "480f46c3",
    "cmovbe ecx, edx": "0f46ca",
    "cmovbe si, r9w": "66410f46f1",
    "seta al": "0f97c0",
    "seta r10b": "410f97c2",
    "cmova rax, rbx": "480f47c3",
    "cmova ecx, edx": "0f47ca",
    "cmova si, r9w": "66410f47f1",
    "sets al": "0f98c0",
    "sets r10b": "410f98c2",
    "cmovs rax, rbx": "480f48c3",
    "cmovs ecx, edx": "0f48ca",
    "cmovs si, r9w": "66410f48f1",
    "setns al": "0f99c0",
    "setns r10b": "410f99c2",
    "cmovns rax, rbx": "480f49c3",
    "cmovns ecx, edx": "0f49ca",
    "cmovns si, r9w": "66410f49f1",
    "setp al": "0f9ac0",
    "setp r10b": "410f9ac2",
    "cmovp rax, rbx": "480f4ac3",
    "cmovp ecx, edx": "0f4aca",
    "cmovp si, r9w": "66410f4af1",
    "setnp al": "0f9bc0",
    "setnp r10b": "410f9bc2",
    "cmovnp rax, rbx": "480f4bc3",
    "cmovnp ecx, edx": "0f4bca",
    "cmovnp si, r9w": "66410f4bf1",
    "setl al": "0f9cc0",
    "setl r10b": "410f9cc2",
    "cmovl rax, rbx": "480f4cc3",
    "cmovl ecx, edx": "0f4cca",
    "cmovl si, r9w": "66410f4cf1",
    "setge al": "0f9dc0",
    "setge r10b": "410f9dc2",
    "cmovge rax, rbx": "480f4dc3",
    "cmovge ecx, edx": "0f4dca",
    "cmovge si, r9w": "66410f4df1",
    "setle al": "0f9ec0",
    "setle r10b": "410f9ec2",
    "cmovle rax, rbx": "480f4ec3",
    "cmovle ecx, edx": "0f4eca",
    "cmovle si, r9w": "66410f4ef1",
    "setg al": "0f9fc0",
    "setg r10b": "410f9fc2",
    "cmovg rax, rbx": "480f4fc3",
    "cmovg ecx, edx": "0f4fca",
    "cmovg si, r9w": "66410f4ff1",
    "cmove rax, qword ptr [rbx+8]": "480f444308",
    "sete byte ptr [rbx+3]": "0f944303",
    "cmovl rax, qword ptr [rbx+8]": "480f4c4308",
    "setl byte ptr [rbx+3]": "0f9c4303",
    "lea rax, [rbx+rcx*4+0x10]": "488d448b10",
    "lea eax, [rbx+rcx*8-1]": "8d44cbff",
    "lea rax, [rbx+rbx*2]": "488d045b",
    "lea r8, [r9+r10*1]": "4f8d0411",
    "lea rax, [rcx*2]": "488d044d00000000",
    "lea rdx, [rbp+0x0]": "488d5500",
    "lea rsi, [r13+r12*4]": "4b8d74a500",
    "lea ax, [rbx+rcx*1]": "668d040b",
    "lea eax, [ebx+ecx*2]": "678d044b",
    "lea rdi, [rsi+rdi*8+0x7fffffff]": "488dbcfeffffff7f",
    "lea rax, [rip+0x100]": "488d0500010000",
    "lea r15, [0x12345678]": "4c8d3c2578563412",
    "lea rcx, [rax-0x80000000]": "488d8800000080",
    "rep movsb": "f3a4",
    "rep stosq": "f348ab",
    "movsb": "a4",
    "movsq": "48a5",
    "stosb": "aa",
    "stosd": "ab",
    "lodsq": "48ad",
    "lodsb": "ac",
    "repne scasb": "f2ae",
    "repe cmpsb": "f3a6",
}
# END ENCODINGS

if __name__ == "__main__":
    main()
