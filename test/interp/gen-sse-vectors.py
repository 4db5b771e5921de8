#!/usr/bin/python3
"""Reference vectors for the interpreter's SSE/SSE2 and x87 instructions, recorded on the host CPU.

Usage (x86-64 Linux host with GNU as):  /usr/bin/python3 test/interp/gen-sse-vectors.py

Writes test/interp/sse-vectors.json. Each instruction of INSNS (Intel syntax) is assembled with
GNU as and run natively inside a harness that loads the machine state from a buffer, executes the
one instruction, and stores the state back:

    state (r15 points at it):   0: xmm0   16: xmm1   32: xmm2   48: rax   56: rbx   64: rcx
                               72: rflags in   80: rflags out   88: mxcsr
                              128: 64 bytes of memory operand ([r15+128] is 16-byte aligned)
                              192: x87 control word

The interpreter test sets the same registers (r15 = the state's address in guest memory), runs the
instruction, and compares xmm0..2, rax, rbx, rcx, the status flags and the memory window. x87
instructions are written as short sequences that load from and store to the memory window.
"""

import ctypes
import json
import mmap
import os
import random
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'sse-vectors.json')
SEED = 20121008

# ---- Instructions (grouped by the kind of inputs they want).
F64 = 'f64'      # xmm lanes as doubles
F32 = 'f32'      # xmm lanes as floats
INT = 'int'      # random bits
X87 = 'x87'      # memory window holds doubles / integers

INSNS = [
    # moves
    (INT, 'movaps xmm0, xmm1'), (INT, 'movups xmm0, xmmword ptr [r15+129]'), (INT, 'movdqa xmm0, xmmword ptr [r15+128]'),
    (INT, 'movdqu xmmword ptr [r15+131], xmm1'), (INT, 'movaps xmmword ptr [r15+128], xmm2'), (INT, 'movapd xmm1, xmm2'),
    (INT, 'movss xmm0, xmm1'), (INT, 'movss xmm0, dword ptr [r15+132]'), (INT, 'movss dword ptr [r15+140], xmm1'),
    (INT, 'movsd xmm0, xmm1'), (INT, 'movsd xmm0, qword ptr [r15+136]'), (INT, 'movsd qword ptr [r15+136], xmm2'),
    (INT, 'movd xmm0, eax'), (INT, 'movq xmm0, rax'), (INT, 'movd eax, xmm1'), (INT, 'movq rbx, xmm1'),
    (INT, 'movd xmm0, dword ptr [r15+128]'), (INT, 'movq xmm0, qword ptr [r15+128]'), (INT, 'movq xmm0, xmm1'),
    (INT, 'movq qword ptr [r15+136], xmm1'), (INT, 'movd dword ptr [r15+136], xmm1'),
    (INT, 'movlps xmm0, qword ptr [r15+128]'), (INT, 'movhps xmm0, qword ptr [r15+128]'), (INT, 'movhlps xmm0, xmm1'),
    (INT, 'movlhps xmm0, xmm1'), (INT, 'movlpd xmm0, qword ptr [r15+136]'), (INT, 'movhpd qword ptr [r15+136], xmm1'),
    (INT, 'movntdq xmmword ptr [r15+128], xmm1'), (INT, 'movnti dword ptr [r15+132], eax'),
    (INT, 'pmovmskb eax, xmm1'), (INT, 'movmskps eax, xmm1'), (INT, 'movmskpd ecx, xmm2'),
    (INT, 'pinsrw xmm0, eax, 5'), (INT, 'pinsrw xmm0, word ptr [r15+130], 2'), (INT, 'pextrw eax, xmm1, 6'),
    # logic
    (INT, 'pxor xmm0, xmm1'), (INT, 'por xmm0, xmm1'), (INT, 'pand xmm0, xmmword ptr [r15+128]'), (INT, 'pandn xmm0, xmm1'),
    (INT, 'xorps xmm0, xmm1'), (INT, 'andps xmm0, xmm1'), (INT, 'andnpd xmm0, xmm1'), (INT, 'orpd xmm0, xmm2'),
    (F64, 'xorpd xmm0, xmm1'), (F64, 'andpd xmm0, xmmword ptr [r15+128]'),
    # integer arithmetic
    (INT, 'paddb xmm0, xmm1'), (INT, 'paddw xmm0, xmm1'), (INT, 'paddd xmm0, xmm1'), (INT, 'paddq xmm0, xmm1'),
    (INT, 'psubb xmm0, xmm1'), (INT, 'psubw xmm0, xmm1'), (INT, 'psubd xmm0, xmmword ptr [r15+128]'), (INT, 'psubq xmm0, xmm1'),
    (INT, 'paddsb xmm0, xmm1'), (INT, 'paddsw xmm0, xmm1'), (INT, 'paddusb xmm0, xmm1'), (INT, 'paddusw xmm0, xmm1'),
    (INT, 'psubsb xmm0, xmm1'), (INT, 'psubsw xmm0, xmm1'), (INT, 'psubusb xmm0, xmm1'), (INT, 'psubusw xmm0, xmm1'),
    (INT, 'pcmpeqb xmm0, xmm1'), (INT, 'pcmpeqw xmm0, xmm1'), (INT, 'pcmpeqd xmm0, xmm1'),
    (INT, 'pcmpgtb xmm0, xmm1'), (INT, 'pcmpgtw xmm0, xmm1'), (INT, 'pcmpgtd xmm0, xmm1'),
    (INT, 'pminub xmm0, xmm1'), (INT, 'pmaxub xmm0, xmm1'), (INT, 'pminsw xmm0, xmm1'), (INT, 'pmaxsw xmm0, xmm1'),
    (INT, 'pavgb xmm0, xmm1'), (INT, 'pavgw xmm0, xmm1'), (INT, 'pmullw xmm0, xmm1'), (INT, 'pmulhw xmm0, xmm1'),
    (INT, 'pmulhuw xmm0, xmm1'), (INT, 'pmuludq xmm0, xmm1'), (INT, 'pmaddwd xmm0, xmm1'), (INT, 'psadbw xmm0, xmm1'),
    # shuffles, packs, unpacks
    (INT, 'pshufd xmm0, xmm1, 0x1b'), (INT, 'pshufd xmm0, xmmword ptr [r15+128], 0xe4'), (INT, 'pshuflw xmm0, xmm1, 0x93'),
    (INT, 'pshufhw xmm0, xmm1, 0x39'), (INT, 'shufps xmm0, xmm1, 0x4e'), (INT, 'shufpd xmm0, xmm1, 1'),
    (INT, 'punpcklbw xmm0, xmm1'), (INT, 'punpcklwd xmm0, xmm1'), (INT, 'punpckldq xmm0, xmm1'), (INT, 'punpcklqdq xmm0, xmm1'),
    (INT, 'punpckhbw xmm0, xmm1'), (INT, 'punpckhwd xmm0, xmm1'), (INT, 'punpckhdq xmm0, xmm1'), (INT, 'punpckhqdq xmm0, xmm1'),
    (INT, 'unpcklps xmm0, xmm1'), (INT, 'unpckhps xmm0, xmm1'), (INT, 'unpcklpd xmm0, xmm1'), (INT, 'unpckhpd xmm0, xmm1'),
    (INT, 'packsswb xmm0, xmm1'), (INT, 'packuswb xmm0, xmm1'), (INT, 'packssdw xmm0, xmm1'),
    # shifts
    (INT, 'psrlw xmm0, 3'), (INT, 'psraw xmm0, 15'), (INT, 'psllw xmm0, 17'), (INT, 'psrld xmm0, 7'), (INT, 'psrad xmm0, 31'),
    (INT, 'pslld xmm0, 1'), (INT, 'psrlq xmm0, 33'), (INT, 'psllq xmm0, 5'), (INT, 'psrldq xmm0, 3'), (INT, 'pslldq xmm0, 9'),
    (INT, 'psrlw xmm0, xmm2'), (INT, 'psrad xmm0, xmm2'), (INT, 'psllq xmm0, xmm2'), (INT, 'psrlq xmm0, xmm2'),
    # double precision
    (F64, 'addsd xmm0, xmm1'), (F64, 'subsd xmm0, xmm1'), (F64, 'mulsd xmm0, xmm1'), (F64, 'divsd xmm0, xmm1'),
    (F64, 'sqrtsd xmm0, xmm1'), (F64, 'minsd xmm0, xmm1'), (F64, 'maxsd xmm0, xmm1'), (F64, 'addsd xmm0, qword ptr [r15+136]'),
    (F64, 'addpd xmm0, xmm1'), (F64, 'subpd xmm0, xmm1'), (F64, 'mulpd xmm0, xmm1'), (F64, 'divpd xmm0, xmm1'),
    (F64, 'sqrtpd xmm0, xmm1'), (F64, 'minpd xmm0, xmm1'), (F64, 'maxpd xmm0, xmm1'),
    (F64, 'ucomisd xmm0, xmm1'), (F64, 'comisd xmm0, xmm1'), (F64, 'ucomisd xmm0, qword ptr [r15+128]'),
    (F64, 'cmpsd xmm0, xmm1, 0'), (F64, 'cmpsd xmm0, xmm1, 1'), (F64, 'cmpsd xmm0, xmm1, 2'), (F64, 'cmpsd xmm0, xmm1, 3'),
    (F64, 'cmpsd xmm0, xmm1, 4'), (F64, 'cmpsd xmm0, xmm1, 5'), (F64, 'cmpsd xmm0, xmm1, 6'), (F64, 'cmpsd xmm0, xmm1, 7'),
    (F64, 'cmppd xmm0, xmm1, 1'),
    (F64, 'cvttsd2si eax, xmm1'), (F64, 'cvttsd2si rax, xmm1'), (F64, 'cvtsd2si rax, xmm1'), (F64, 'cvtsd2si ecx, xmm2'),
    (F64, 'cvtsd2ss xmm0, xmm1'), (F64, 'cvtpd2ps xmm0, xmm1'), (F64, 'cvttpd2dq xmm0, xmm1'), (F64, 'cvtpd2dq xmm0, xmm1'),
    (INT, 'cvtsi2sd xmm0, eax'), (INT, 'cvtsi2sd xmm0, rax'), (INT, 'cvtsi2sd xmm0, dword ptr [r15+128]'),
    (INT, 'cvtsi2ss xmm0, eax'), (INT, 'cvtdq2pd xmm0, xmm1'), (INT, 'cvtdq2ps xmm0, xmm1'),
    # single precision
    (F32, 'addss xmm0, xmm1'), (F32, 'subss xmm0, xmm1'), (F32, 'mulss xmm0, xmm1'), (F32, 'divss xmm0, xmm1'),
    (F32, 'sqrtss xmm0, xmm1'), (F32, 'minss xmm0, xmm1'), (F32, 'maxss xmm0, xmm1'),
    (F32, 'addps xmm0, xmm1'), (F32, 'mulps xmm0, xmm1'), (F32, 'divps xmm0, xmm1'), (F32, 'sqrtps xmm0, xmm1'),
    (F32, 'ucomiss xmm0, xmm1'), (F32, 'comiss xmm0, xmm1'), (F32, 'cmpss xmm0, xmm1, 2'), (F32, 'cmpps xmm0, xmm1, 4'),
    (F32, 'cvtss2sd xmm0, xmm1'), (F32, 'cvtps2pd xmm0, xmm1'), (F32, 'cvttss2si eax, xmm1'), (F32, 'cvtss2si rax, xmm1'),
    (F32, 'cvtps2dq xmm0, xmm1'), (F32, 'cvttps2dq xmm0, xmm1'),
]

# x87: short sequences over the memory window (doubles at +128, +136, ints at +144/+152, out at +160..).
X87_SEQS = [
    'fld qword ptr [r15+128]; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fadd qword ptr [r15+136]; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fsub qword ptr [r15+136]; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fsubr qword ptr [r15+136]; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fmul qword ptr [r15+136]; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fdiv qword ptr [r15+136]; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fdivr qword ptr [r15+136]; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fld qword ptr [r15+136]; faddp st(1), st; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fld qword ptr [r15+136]; fsubp st(1), st; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fld qword ptr [r15+136]; fsubrp st(1), st; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fld qword ptr [r15+136]; fmulp st(1), st; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fld qword ptr [r15+136]; fdivp st(1), st; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fld qword ptr [r15+136]; fdivrp st(1), st; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fld qword ptr [r15+136]; fxch st(1); fstp qword ptr [r15+160]; fstp qword ptr [r15+168]',
    'fld qword ptr [r15+128]; fchs; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fabs; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fsqrt; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; frndint; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fistp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fistp dword ptr [r15+160]',
    'fld qword ptr [r15+128]; fisttp qword ptr [r15+160]',
    'fild qword ptr [r15+144]; fstp qword ptr [r15+160]',
    'fild dword ptr [r15+144]; fstp qword ptr [r15+160]',
    'fild word ptr [r15+144]; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fstp tbyte ptr [r15+160]',
    'fld tbyte ptr [r15+128]; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fstp dword ptr [r15+160]',
    'fld dword ptr [r15+128]; fstp qword ptr [r15+160]',
    'fldz; fld1; faddp st(1), st; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fld qword ptr [r15+136]; fucomip st, st(1); fstp st(0)',
    'fld qword ptr [r15+128]; fld qword ptr [r15+136]; fcomip st, st(1); fstp st(0)',
    'fld qword ptr [r15+128]; fld qword ptr [r15+136]; fucomi st, st(1); fstp st(0); fstp st(0)',
    'fld qword ptr [r15+128]; fld qword ptr [r15+136]; fucompp; fnstsw ax',
    'fld qword ptr [r15+128]; ftst; fnstsw ax; fstp st(0)',
    'fld qword ptr [r15+128]; fxam; fnstsw ax; fstp st(0)',
    'fnstcw word ptr [r15+160]',
    'fld qword ptr [r15+128]; fld qword ptr [r15+136]; fprem; fstp qword ptr [r15+160]; fstp st(0)',
    'fld qword ptr [r15+128]; fld qword ptr [r15+136]; fscale; fstp qword ptr [r15+160]; fstp st(0)',
    'fld qword ptr [r15+128]; fld qword ptr [r15+136]; fcmovb st, st(1); fstp qword ptr [r15+160]; fstp st(0)',
    'fld qword ptr [r15+128]; fld qword ptr [r15+136]; fcmovnbe st, st(1); fstp qword ptr [r15+160]; fstp st(0)',
    'fld qword ptr [r15+128]; fmul st, st(0); fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fld st(0); faddp st(1), st; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fld qword ptr [r15+136]; fmul st(1), st; fstp st(0); fstp qword ptr [r15+160]',
    'fild qword ptr [r15+144]; fild qword ptr [r15+152]; fdivp st(1), st; fstp tbyte ptr [r15+160]',
    'fld tbyte ptr [r15+128]; fld tbyte ptr [r15+144]; fmulp st(1), st; fstp tbyte ptr [r15+160]',
    'fld tbyte ptr [r15+128]; fld tbyte ptr [r15+144]; faddp st(1), st; fstp tbyte ptr [r15+160]',
    'fld tbyte ptr [r15+128]; fld tbyte ptr [r15+144]; fdivp st(1), st; fstp tbyte ptr [r15+160]',
    'fld tbyte ptr [r15+128]; fistp qword ptr [r15+160]',
    'fldl2e; fstp tbyte ptr [r15+160]', 'fldpi; fstp tbyte ptr [r15+160]', 'fldln2; fstp tbyte ptr [r15+160]',
    'fldlg2; fstp tbyte ptr [r15+160]', 'fldl2t; fstp tbyte ptr [r15+160]',
]

# Rounding-control variants for conversions and x87 stores.
RC_VARIANTS = ['cvtsd2si rax, xmm1', 'cvtsd2ss xmm0, xmm1', 'addsd xmm0, xmm1', 'cvtps2dq xmm0, xmm1']
X87_RC_VARIANTS = [
    'fld qword ptr [r15+128]; fistp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; frndint; fstp qword ptr [r15+160]',
    'fld qword ptr [r15+128]; fstp dword ptr [r15+160]',
    'fld qword ptr [r15+128]; fadd qword ptr [r15+136]; fstp qword ptr [r15+160]',
]

PRE = 'mov r15, rdi\n'
LOAD = '''
movdqu xmm0, [r15+0]
movdqu xmm1, [r15+16]
movdqu xmm2, [r15+32]
mov rax, [r15+48]
mov rbx, [r15+56]
mov rcx, [r15+64]
ldmxcsr [r15+88]
fninit
fldcw [r15+192]
push qword ptr [r15+72]
popfq
'''
STORE = '''
pushfq
pop qword ptr [r15+80]
movdqu [r15+0], xmm0
movdqu [r15+16], xmm1
movdqu [r15+32], xmm2
mov [r15+48], rax
mov [r15+56], rbx
mov [r15+64], rcx
fninit
'''


def assemble(text):
    d = tempfile.mkdtemp()
    src = '.intel_syntax noprefix\n.text\n' + text.replace(';', '\n') + '\n'
    with open(d + '/a.s', 'w') as f:
        f.write(src)
    subprocess.check_call(['as', '--64', '-o', d + '/a.o', d + '/a.s'])
    subprocess.check_call(['objcopy', '-O', 'binary', '-j', '.text', d + '/a.o', d + '/a.bin'])
    return open(d + '/a.bin', 'rb').read()


def harness(body):
    code = assemble('push rbx\npush r15\n' + PRE + LOAD + body + '\n' + STORE + 'pop r15\npop rbx\nret')
    return code


libc = ctypes.CDLL(None)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]


def run_native(code, state):
    size = 1 << 16
    addr = libc.mmap(None, size, 7, 0x22, -1, 0)  # RWX, MAP_PRIVATE|MAP_ANONYMOUS
    ctypes.memmove(addr, code, len(code))
    fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(addr)
    buf = (ctypes.c_uint8 * 256).from_buffer_copy(state)
    fn(ctypes.addressof(buf))
    return bytes(buf)


rng = random.Random(SEED)

SPECIAL64 = [0.0, -0.0, 1.0, -1.0, 1.5, -2.5, 0.5, 2.5, 3.5, -3.5, 1e308, -1e308, 5e-324, 2.2250738585072014e-308,
             float('inf'), float('-inf'), 2.0 ** 63, -2.0 ** 63, 2.0 ** 31, -2.0 ** 31 - 1, 4294967296.5, 1e10, 123456789.75,
             0.1, 1 / 3, 2.0 ** 53 + 2]
NANS64 = [0x7ff8000000000000, 0xfff8000000000000, 0x7ff0000000000001, 0x7ff4000000001234, 0xfff7ffffffffffff]


def rand_f64():
    r = rng.random()
    if r < 0.35:
        return struct.pack('<d', rng.choice(SPECIAL64))
    if r < 0.45:
        return struct.pack('<Q', rng.choice(NANS64))
    if r < 0.75:
        return struct.pack('<d', rng.uniform(-1e6, 1e6))
    return struct.pack('<Q', rng.getrandbits(64))


SPECIAL32 = [0.0, -0.0, 1.0, -1.0, 1.5, 2.5, -0.5, 3.4e38, -3.4e38, 1e-45, 1.17549435e-38, float('inf'), float('-inf'),
             2.0 ** 31, 16777217.0, 0.1]
NANS32 = [0x7fc00000, 0xffc00000, 0x7f800001, 0x7fa01234]


def rand_f32():
    r = rng.random()
    if r < 0.35:
        return struct.pack('<f', rng.choice(SPECIAL32))
    if r < 0.45:
        return struct.pack('<I', rng.choice(NANS32))
    if r < 0.75:
        return struct.pack('<f', rng.uniform(-1e4, 1e4))
    return struct.pack('<I', rng.getrandbits(32))


def rand_int_bytes(n):
    r = rng.random()
    if r < 0.2:
        return bytes(rng.choice([0, 0xff, 0x80, 0x7f, 0x01]) for _ in range(n))
    return bytes(rng.getrandbits(8) for _ in range(n))


def make_state(kind, rc=0, x87rc=0):
    def xmm():
        if kind == F64:
            return rand_f64() + rand_f64()
        if kind == F32:
            return b''.join(rand_f32() for _ in range(4))
        return rand_int_bytes(16)
    st = bytearray(256)
    st[0:16] = xmm()
    st[16:32] = xmm()
    st[32:48] = rand_int_bytes(16) if kind != F64 else struct.pack('<QQ', rng.choice([0, 1, 5, 13, 31, 64, 65, 100]), 0)
    for off in (48, 56, 64):
        v = rng.choice([0, 1, 0xffffffff, 0x80000000, 0x7fffffff, 0xffffffffffffffff, 0x8000000000000000, rng.getrandbits(64),
                        rng.getrandbits(32), rng.getrandbits(16)])
        st[off:off + 8] = struct.pack('<Q', v)
    st[72:80] = struct.pack('<Q', 0x202 | rng.choice([0, 0x8d5, 0x1, 0x40]))
    st[88:92] = struct.pack('<I', 0x1f80 | (rc << 13))
    if kind == X87:
        st[128:136] = rand_f64()
        st[136:144] = rand_f64()
        st[144:152] = struct.pack('<q', rng.choice([0, 1, -1, 7, -100, 2 ** 40 + 3, -(2 ** 62), rng.getrandbits(63) - 2 ** 62, 123456]))
        st[152:160] = struct.pack('<q', rng.choice([1, -1, 3, 7, -9, 1000003, 2 ** 33 + 1]))
    else:
        mem = xmm() + xmm() + rand_int_bytes(32)
        st[128:192] = mem
    st[192:194] = struct.pack('<H', 0x037f | (x87rc << 10))
    return st


def tbyte_operands(st):
    """For 80-bit loads: make [128] and [144] valid extended values (from doubles or random)."""
    def ext():
        r = rng.random()
        if r < 0.5:
            d = struct.unpack('<d', rand_f64())[0]
            return f64_to_ext(d)
        mant = rng.getrandbits(64) | (1 << 63)
        exp = rng.choice([0x3fff, 0x4000, 0x3ffe, 0x403e, 0x3c00, 0x43ff, rng.randrange(0x3f00, 0x4100)])
        sign = rng.getrandbits(1)
        return struct.pack('<QH', mant, exp | (sign << 15))
    st[128:138] = ext()
    st[144:154] = ext()


def f64_to_ext(d):
    import math
    bits = struct.unpack('<Q', struct.pack('<d', d))[0]
    sign = bits >> 63
    exp = (bits >> 52) & 0x7ff
    frac = bits & ((1 << 52) - 1)
    if exp == 0x7ff:
        return struct.pack('<QH', (1 << 63) | (frac << 11), 0x7fff | (sign << 15))
    if exp == 0:
        if frac == 0:
            return struct.pack('<QH', 0, sign << 15)
        # denormal: normalise
        e = -1022
        while not frac & (1 << 52):
            frac <<= 1
            e -= 1
        return struct.pack('<QH', frac << 11, (e + 16383) | (sign << 15))
    return struct.pack('<QH', ((1 << 52) | frac) << 11, (exp - 1023 + 16383) | (sign << 15))


def pack_in(st, kind, text, x87rc):
    """The input state, trimmed: registers (0..96), then the memory window and FCW when used."""
    uses_mem = 'ptr' in text or kind == X87
    head = bytes(st[0:96])
    if not uses_mem and x87rc == 0:
        return head.hex()
    return head.hex() + ':' + bytes(st[128:194]).hex()


def pack_out(st, out):
    """The output as the byte ranges that differ from the input: [[offset, hex], ...]."""
    diff = []
    i = 0
    while i < 194:
        if i in range(80, 88) or i in range(96, 128):
            i += 1
            continue
        if st[i] != out[i]:
            j = i
            while j < 194 and st[j] != out[j] and not (80 <= j < 88):
                j += 1
            diff.append([i, bytes(out[i:j]).hex()])
            i = j
        else:
            i += 1
    return diff


def main():
    groups_out = []
    groups = [(k, t, 0, 0) for k, t in INSNS] + [(F64, t, rc, 0) for t in RC_VARIANTS for rc in (1, 2, 3)]
    groups += [(X87, t, 0, 0) for t in X87_SEQS] + [(X87, t, 0, rc) for t in X87_RC_VARIANTS for rc in (1, 2, 3)]
    total = 0
    for kind, text, rc, x87rc in groups:
        body = assemble(text)
        code = harness(text)
        n = 16 if kind != X87 else 32
        vecs = []
        for _ in range(n):
            st = make_state(kind if kind != X87 else X87, rc, x87rc)
            if kind == X87 and 'tbyte ptr [r15+128]' in text:
                tbyte_operands(st)
            out = run_native(code, bytes(st))
            flags = struct.unpack('<Q', out[80:88])[0] & 0x8d5
            vecs.append([pack_in(st, kind, text, x87rc), pack_out(st, out), flags])
        total += len(vecs)
        groups_out.append({'asm': text, 'bytes': body.hex(), 'kind': kind, 'vectors': vecs})
    with open(OUT, 'w') as f:
        json.dump({'schema': 1, 'generator': 'test/interp/gen-sse-vectors.py',
                   'layout': 'in = hex(state[0:96]) [+ ":" + hex(state[128:194])]; out = changed byte ranges of the state; '
                             'flags = status flags after (CF PF AF ZF SF OF)',
                   'groups': groups_out}, f, separators=(',', ':'))
    print(f'{total} vectors in {len(groups_out)} groups -> {OUT}', file=sys.stderr)


if __name__ == '__main__':
    main()
