import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it, expect } from 'vitest';
import {
  AT_EMPTY_PATH, AT_FDCWD, EAGAIN, FIONBIO, FIONREAD, F_GETLK, F_UNLCK, O_PATH, AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW, DT_DIR, DT_LNK, DT_REG, EACCES, EBADF,
  EEXIST, EFAULT, EINVAL, EISDIR, ELOOP, EMFILE, ENOENT, ENOTDIR, ENOTEMPTY, ENOTTY, EPERM, ERANGE, ESPIPE,
  FD_CLOEXEC, F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_GETFL, F_OK, F_SETFD, F_SETFL, NR, O_APPEND, O_CLOEXEC,
  O_CREAT, O_DIRECTORY, O_EXCL, O_LARGEFILE, O_NOFOLLOW, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, PAGE_OFFSET,
  R_OK, SEEK_CUR, SEEK_END, SEEK_SET, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, TCGETS, TIOCGWINSZ, W_OK,
  X_OK,
} from '../../core/linux/linux-abi.js';
import { syscall } from '../../core/linux/user-abi.js';
import { boot, runAll } from './helpers.js';
import {
  BUF, BUF2, PATH, PATH2, UNMAPPED, expectedStat, getBytes, getStr, parseStat, putBytes, putStr, script, tempDir,
} from './fs-helpers.js';

function bootAt(root: string): ReturnType<typeof boot> {
  const b = boot();
  b.k.root = root;
  return b;
}

describe('Linux model files: open, read, write, lseek', () => {
  it('round-trips data through a host file, with pread/pwrite leaving the offset alone', () => {
    const root = tempDir();
    const { k } = bootAt(root);
    const seen: string[] = [];
    const { p, results } = script(k, [
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/hello.txt'), O_CREAT | O_RDWR | O_TRUNC, 0o640),
      (cpu, fd) => syscall(cpu, NR.write, fd, putStr(cpu, BUF, 'hello, world'), 12),
      (cpu) => syscall(cpu, NR.lseek, 3, 0, SEEK_SET),
      (cpu) => syscall(cpu, NR.read, 3, BUF2, 100),
      (cpu, n) => {
        seen.push(getStr(cpu, BUF2, n));
        syscall(cpu, NR.lseek, 3, -5, SEEK_END);
      },
      (cpu) => syscall(cpu, NR.read, 3, BUF2, 100),
      (cpu, n) => {
        seen.push(getStr(cpu, BUF2, n));
        syscall(cpu, NR.pwrite64, 3, putStr(cpu, BUF, 'HELLO'), 5, 0);
      },
      (cpu) => syscall(cpu, NR.pread64, 3, BUF2, 5, 7),
      (cpu, n) => {
        seen.push(getStr(cpu, BUF2, n));
        syscall(cpu, NR.lseek, 3, 0, SEEK_CUR);
      },
      (cpu) => syscall(cpu, NR.read, 3, BUF2, 100), // at the end: 0
      (cpu) => syscall(cpu, NR.lseek, 3, -100, SEEK_CUR), // before the start
      (cpu) => syscall(cpu, NR.close, 3),
    ]);
    runAll(k);
    expect(results).toEqual([3, 12, 0, 12, 7, 5, 5, 5, 12, 0, -EINVAL, 0]);
    expect(seen).toEqual(['hello, world', 'world', 'world']);
    expect(fs.readFileSync(path.join(root, 'hello.txt'), 'utf8')).toBe('HELLO, world');
    expect(fs.statSync(path.join(root, 'hello.txt')).mode & 0o7777).toBe(0o640);
    expect(p.files.size).toBe(0); // exit closed everything
  });

  it('readv and writev scatter and gather', () => {
    const root = tempDir();
    fs.writeFileSync(path.join(root, 'in'), 'abcdefghij');
    const { k } = bootAt(root);
    let got: string[] = [];
    const iov = (cpu: Parameters<typeof putStr>[0], at: number, parts: Array<[number, number]>): number => {
      parts.forEach(([base, len], i) => {
        cpu.mmu.write64Number(at + i * 16, base);
        cpu.mmu.write64Number(at + i * 16 + 8, len);
      });
      return at;
    };
    const { results } = script(k, [
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, 'in'), O_RDONLY),
      (cpu) => syscall(cpu, NR.readv, 3, iov(cpu, BUF, [[BUF2, 3], [BUF2 + 0x100, 0], [BUF2 + 0x200, 4]]), 3),
      (cpu) => {
        got = [getStr(cpu, BUF2, 3), getStr(cpu, BUF2 + 0x200, 4)];
        syscall(cpu, NR.open, putStr(cpu, PATH, 'out'), O_CREAT | O_WRONLY, 0o644);
      },
      (cpu) => {
        putStr(cpu, BUF2, 'one ');
        putStr(cpu, BUF2 + 0x100, 'two');
        syscall(cpu, NR.writev, 4, iov(cpu, BUF, [[BUF2, 4], [BUF2 + 0x100, 3]]), 2);
      },
      (cpu) => syscall(cpu, NR.writev, 4, iov(cpu, BUF, [[UNMAPPED, 4]]), 1),
      (cpu) => syscall(cpu, NR.readv, 3, BUF, 2000), // more than UIO_MAXIOV
    ]);
    runAll(k);
    expect(results).toEqual([3, 7, 4, 7, -EFAULT, -EINVAL]);
    expect(got).toEqual(['abc', 'defg']);
    expect(fs.readFileSync(path.join(root, 'out'), 'utf8')).toBe('one two');
  });
});

describe('Linux model files: struct stat', () => {
  it('fstat, stat, lstat and newfstatat lay out x86-64 struct stat exactly as the host file is', () => {
    const root = tempDir();
    const file = path.join(root, 'data.bin');
    fs.writeFileSync(file, Buffer.alloc(5000, 7));
    fs.mkdirSync(path.join(root, 'dir'));
    fs.symlinkSync('data.bin', path.join(root, 'link'));
    const { k } = bootAt(root);
    const bufs: Uint8Array[] = [];
    const grab = (cpu: Parameters<typeof getBytes>[0], va: number): void => void bufs.push(getBytes(cpu, va, 144));
    const { results } = script(k, [
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/data.bin'), O_RDONLY),
      (cpu) => syscall(cpu, NR.fstat, 3, BUF),
      (cpu) => syscall(cpu, NR.stat, putStr(cpu, PATH, '/link'), BUF + 0x200), // follows the link
      (cpu) => syscall(cpu, NR.newfstatat, 3, putStr(cpu, PATH, ''), BUF + 0x400, AT_EMPTY_PATH),
      (cpu) => syscall(cpu, NR.lstat, putStr(cpu, PATH, 'link'), BUF + 0x600),
      (cpu) => syscall(cpu, NR.newfstatat, AT_FDCWD, putStr(cpu, PATH, 'dir'), BUF + 0x800, AT_SYMLINK_NOFOLLOW),
      (cpu) => syscall(cpu, NR.newfstatat, AT_FDCWD, putStr(cpu, PATH, 'dir'), BUF + 0xa00, 0x4000_0000), // bad flag
      (cpu) => {
        for (const off of [0, 0x200, 0x400, 0x600, 0x800]) grab(cpu, BUF + off);
        syscall(cpu, NR.exit_group, 0);
      },
    ]);
    runAll(k);
    expect(results.slice(0, 7)).toEqual([3, 0, 0, 0, 0, 0, -EINVAL]);
    const want = expectedStat(fs.statSync(file, { bigint: true }));
    expect(parseStat(bufs[0]!)).toEqual(want);
    expect(parseStat(bufs[1]!)).toEqual(want);
    expect(parseStat(bufs[2]!)).toEqual(want);
    expect(parseStat(bufs[3]!)).toEqual(expectedStat(fs.lstatSync(path.join(root, 'link'), { bigint: true })));
    expect(Number(parseStat(bufs[3]!).mode) & S_IFMT).toBe(S_IFLNK);
    expect(parseStat(bufs[4]!)).toEqual(expectedStat(fs.statSync(path.join(root, 'dir'), { bigint: true })));
    expect(Number(parseStat(bufs[4]!).mode) & S_IFMT).toBe(S_IFDIR);
    expect(parseStat(bufs[0]!).size).toBe(5000n);
  });
});

describe('Linux model files: getdents64', () => {
  it('lists ".", "..", then the entries in byte order with inode numbers, types and d_off cookies', () => {
    const root = tempDir();
    const d = path.join(root, 'd');
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, 'b.txt'), 'b');
    fs.writeFileSync(path.join(d, 'a.txt'), 'a');
    fs.mkdirSync(path.join(d, 'sub'));
    fs.symlinkSync('a.txt', path.join(d, 'link'));
    const { k } = bootAt(root);
    let raw = new Uint8Array();
    const { results } = script(k, [
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/d'), O_RDONLY | O_DIRECTORY),
      (cpu) => syscall(cpu, NR.getdents64, 3, BUF, 4096),
      (cpu, n) => {
        raw = getBytes(cpu, BUF, n);
        syscall(cpu, NR.getdents64, 3, BUF, 4096); // the end: 0
      },
      (cpu) => syscall(cpu, NR.lseek, 3, 0, SEEK_SET), // rewinddir
      (cpu) => syscall(cpu, NR.getdents64, 3, BUF, 20), // too small for one record
      (cpu) => syscall(cpu, NR.getdents64, 3, BUF, 24), // exactly "."
      (cpu) => syscall(cpu, NR.getdents64, 3, UNMAPPED, 4096),
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/d/a.txt'), O_RDONLY),
      (cpu, fd) => syscall(cpu, NR.getdents64, fd, BUF, 4096),
      (cpu) => syscall(cpu, NR.getdents64, 99, BUF, 4096),
    ]);
    runAll(k);
    expect(results).toEqual([3, raw.length, 0, 0, -EINVAL, 24, -EFAULT, 4, -ENOTDIR, -EBADF]);
    const dv = new DataView(raw.buffer);
    const ents: Array<{ ino: bigint; off: bigint; reclen: number; type: number; name: string }> = [];
    for (let o = 0; o < raw.length; ) {
      const reclen = dv.getUint16(o + 16, true);
      const nameBytes = raw.subarray(o + 19, o + reclen);
      ents.push({
        ino: dv.getBigUint64(o, true), off: dv.getBigInt64(o + 8, true), reclen, type: raw[o + 18]!,
        name: Buffer.from(nameBytes.subarray(0, nameBytes.indexOf(0))).toString(),
      });
      expect(reclen % 8).toBe(0);
      o += reclen;
    }
    expect(ents.map((e) => e.name)).toEqual(['.', '..', 'a.txt', 'b.txt', 'link', 'sub']);
    expect(ents.map((e) => e.type)).toEqual([DT_DIR, DT_DIR, DT_REG, DT_REG, DT_LNK, DT_DIR]);
    expect(ents.map((e) => e.off)).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
    expect(ents[0]!.ino).toBe(fs.statSync(d, { bigint: true }).ino);
    expect(ents[1]!.ino).toBe(fs.statSync(root, { bigint: true }).ino);
    expect(ents[2]!.ino).toBe(fs.statSync(path.join(d, 'a.txt'), { bigint: true }).ino);
    expect(ents[4]!.ino).toBe(fs.lstatSync(path.join(d, 'link'), { bigint: true }).ino);
  });
});

describe('Linux model files: the root is a jail', () => {
  it('".." stops at the root: ../../etc/passwd is the root\'s own etc/passwd, or ENOENT', () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'sub'));
    const { k } = bootAt(root);
    let text = '';
    let cwd = '';
    const { results } = script(k, [
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '../../etc/passwd'), O_RDONLY),
      (cpu) => {
        fs.mkdirSync(path.join(root, 'etc'));
        fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'inside the root');
        syscall(cpu, NR.chdir, putStr(cpu, PATH, 'sub'));
      },
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '../../../../etc/passwd'), O_RDONLY),
      (cpu, fd) => syscall(cpu, NR.read, fd, BUF, 100),
      (cpu, n) => {
        text = getStr(cpu, BUF, n);
        syscall(cpu, NR.chdir, putStr(cpu, PATH, '/../../..'));
      },
      (cpu) => syscall(cpu, NR.getcwd, BUF, 100),
      (cpu, n) => {
        cwd = getStr(cpu, BUF, n - 1);
        syscall(cpu, NR.getcwd, BUF, 1); // too small
      },
      (cpu) => syscall(cpu, NR.getcwd, UNMAPPED, 100),
      (cpu) => syscall(cpu, NR.stat, putStr(cpu, PATH, '/..'), BUF),
    ]);
    runAll(k);
    expect(results).toEqual([-ENOENT, 0, 3, 15, 0, 2, -ERANGE, -EFAULT, 0]);
    expect(text).toBe('inside the root');
    expect(cwd).toBe('/');
  });

  it('resolves every symlink inside the root, as chroot: absolute targets from the guest\'s "/", ".." stops there', () => {
    const root = tempDir();
    const outside = tempDir('outside');
    fs.writeFileSync(path.join(outside, 'secret'), 'secret');
    fs.writeFileSync(path.join(root, 'inside.txt'), 'inside');
    // The host path of `outside`, recreated inside the root: where an absolute target leads.
    fs.mkdirSync(path.join(root, outside), { recursive: true });
    fs.writeFileSync(path.join(root, outside, 'secret'), 'mirror');
    fs.symlinkSync(path.join(outside, 'secret'), path.join(root, 'out')); // absolute: the root's own copy
    fs.symlinkSync(path.join('..', '..', '..', path.basename(outside), 'secret'), path.join(root, 'rel')); // ".." stops at "/"
    fs.symlinkSync('..', path.join(root, 'up'));
    fs.symlinkSync('inside.txt', path.join(root, 'in'));
    fs.symlinkSync(path.join(outside, 'created'), path.join(root, 'dangling'));
    fs.symlinkSync('loop', path.join(root, 'loop'));
    const { k } = bootAt(root);
    const read: string[] = [];
    let link = '';
    const { results } = script(k, [
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/out'), O_RDONLY),
      (cpu, fd) => syscall(cpu, NR.read, fd, BUF, 100),
      (cpu, n) => {
        read.push(getStr(cpu, BUF, n));
        syscall(cpu, NR.open, putStr(cpu, PATH, 'rel'), O_RDONLY);
      },
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/up/up/up/inside.txt'), O_RDONLY),
      (cpu, fd) => syscall(cpu, NR.read, fd, BUF, 100),
      (cpu, n) => {
        read.push(getStr(cpu, BUF, n));
        syscall(cpu, NR.open, putStr(cpu, PATH, '/dangling'), O_CREAT | O_WRONLY, 0o644);
      },
      (cpu) => syscall(cpu, NR.lstat, putStr(cpu, PATH, '/out'), BUF), // the link itself
      (cpu) => syscall(cpu, NR.readlink, putStr(cpu, PATH, '/out'), BUF, 4096),
      (cpu, n) => {
        link = getStr(cpu, BUF, n);
        syscall(cpu, NR.open, putStr(cpu, PATH, '/in'), O_RDONLY | O_NOFOLLOW);
      },
      (cpu) => syscall(cpu, NR.readlink, putStr(cpu, PATH, '/inside.txt'), BUF, 100), // not a link
      (cpu) => syscall(cpu, NR.stat, putStr(cpu, PATH, '/loop'), BUF),
      (cpu) => syscall(cpu, NR.stat, putStr(cpu, PATH, '/inside.txt/x'), BUF),
      (cpu) => syscall(cpu, NR.stat, putStr(cpu, PATH, '/in/'), BUF),
    ]);
    runAll(k);
    expect(results).toEqual([3, 6, -ENOENT, 4, 6, 5, 0, link.length, -ELOOP, -EINVAL, -ELOOP, -ENOTDIR, -ENOTDIR]);
    expect(read).toEqual(['mirror', 'inside']);
    expect(link).toBe(path.join(outside, 'secret'));
    // The dangling link's target was created inside the root, not at the host path it names.
    expect(fs.existsSync(path.join(outside, 'created'))).toBe(false);
    expect(fs.existsSync(path.join(root, outside, 'created'))).toBe(true);
  });

  it('a descriptor is bound to the directory it opened: rename it away, plant a symlink, and the descriptor still lists and resolves the directory', () => {
    const root = tempDir();
    const outside = tempDir('outside');
    fs.writeFileSync(path.join(outside, 'passwd'), 'host secret');
    fs.mkdirSync(path.join(root, 'd'));
    fs.writeFileSync(path.join(root, 'd', 'mine'), 'mine');
    const { k } = bootAt(root);
    let names = '';
    let text = '';
    let cwd = '';
    const { results } = script(k, [
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/d'), O_RDONLY | O_DIRECTORY),
      (cpu) => syscall(cpu, NR.chdir, putStr(cpu, PATH, '/d')),
      (cpu) => syscall(cpu, NR.rename, putStr(cpu, PATH, '/d'), putStr(cpu, PATH2, '/e')),
      (cpu) => {
        fs.symlinkSync(outside, path.join(root, 'd')); // a host symlink to the host's directory, too
        syscall(cpu, NR.getdents64, 3, BUF, 4096);
      },
      (cpu, n) => {
        for (let off = 0; off < n;) {
          const dv = new DataView(getBytes(cpu, BUF + off, 19 + 256).buffer);
          const reclen = dv.getUint16(16, true);
          names += getStr(cpu, BUF + off + 19, reclen - 19).replace(/\0.*$/s, '') + ' ';
          off += reclen;
        }
        syscall(cpu, NR.openat, 3, putStr(cpu, PATH, 'mine'), O_RDONLY);
      },
      (cpu, fd) => syscall(cpu, NR.read, fd, BUF, 100),
      (cpu, n) => {
        text = getStr(cpu, BUF, n);
        syscall(cpu, NR.openat, 3, putStr(cpu, PATH, 'passwd'), O_RDONLY);
      },
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, 'passwd'), O_RDONLY), // from the cwd: e as well
      (cpu) => syscall(cpu, NR.getcwd, BUF, 100),
      (cpu, n) => {
        cwd = getStr(cpu, BUF, n - 1);
        syscall(cpu, NR.open, putStr(cpu, PATH, '/d/passwd'), O_RDONLY); // the planted link: inside the root
      },
      (cpu) => {
        fs.rmSync(path.join(root, 'e'), { recursive: true });
        syscall(cpu, NR.openat, 3, putStr(cpu, PATH, 'x'), O_RDONLY | O_CREAT, 0o644); // removed: ENOENT
      },
      (cpu) => syscall(cpu, NR.getcwd, BUF, 100),
      (cpu) => syscall(cpu, NR.getdents64, 3, BUF, 4096),
    ]);
    runAll(k);
    expect(results).toEqual([3, 0, 0, expect.any(Number), 4, 4, -ENOENT, -ENOENT, 3, -ENOENT, -ENOENT, -ENOENT, 0]);
    expect(names).toBe('. .. mine ');
    expect(text).toBe('mine');
    expect(cwd).toBe('/e');
  });
});

describe('Linux model files: walks and links', () => {
  it('".." after a symlink is the parent of its target, as Linux (not of the name as written)', () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'a', 'b'), { recursive: true });
    fs.mkdirSync(path.join(root, 'c'));
    fs.writeFileSync(path.join(root, 'a', 'f'), 'in a');
    fs.writeFileSync(path.join(root, 'f'), 'at the root');
    fs.symlinkSync('/a/b', path.join(root, 'c', 'l'));
    const { k } = bootAt(root);
    let text = '';
    const { results } = script(k, [
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/c/l/../f'), O_RDONLY), // /a/f, not /c/f
      (cpu, fd) => syscall(cpu, NR.read, fd, BUF, 100),
      (cpu, n) => {
        text = getStr(cpu, BUF, n);
        syscall(cpu, NR.chdir, putStr(cpu, PATH, '/c/l'));
      },
      (cpu) => syscall(cpu, NR.getcwd, BUF, 100),
      (cpu) => syscall(cpu, NR.stat, putStr(cpu, PATH, '../../../../f'), BUF), // climbs to "/" and stays
    ]);
    runAll(k);
    expect(results).toEqual([3, 4, 0, 5, 0]);
    expect(text).toBe('in a');
  });

  it('link and linkat: a second name for a file; -EPERM for a directory, -EEXIST, AT_SYMLINK_FOLLOW, AT_EMPTY_PATH is -ENOENT', () => {
    const root = tempDir();
    fs.writeFileSync(path.join(root, 'f'), 'data');
    fs.mkdirSync(path.join(root, 'd'));
    fs.symlinkSync('f', path.join(root, 'l'));
    const { k } = bootAt(root);
    const { results } = script(k, [
      (cpu) => syscall(cpu, NR.link, putStr(cpu, PATH, '/f'), putStr(cpu, PATH2, '/g')),
      (cpu) => syscall(cpu, NR.link, putStr(cpu, PATH, '/d'), putStr(cpu, PATH2, '/e')),
      (cpu) => syscall(cpu, NR.link, putStr(cpu, PATH, '/f'), putStr(cpu, PATH2, '/g')),
      (cpu) => syscall(cpu, NR.link, putStr(cpu, PATH, '/missing'), putStr(cpu, PATH2, '/h')),
      (cpu) => syscall(cpu, NR.linkat, AT_FDCWD, putStr(cpu, PATH, '/l'), AT_FDCWD, putStr(cpu, PATH2, '/lf'), 0x400),
      (cpu) => syscall(cpu, NR.linkat, AT_FDCWD, putStr(cpu, PATH, '/l'), AT_FDCWD, putStr(cpu, PATH2, '/ll'), 0),
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/f'), O_RDONLY),
      (cpu, fd) => syscall(cpu, NR.linkat, fd, putStr(cpu, PATH, ''), AT_FDCWD, putStr(cpu, PATH2, '/byfd'), AT_EMPTY_PATH),
      (cpu) => syscall(cpu, NR.linkat, AT_FDCWD, putStr(cpu, PATH, '/f'), AT_FDCWD, putStr(cpu, PATH2, '/x'), 0x8000),
    ]);
    runAll(k);
    expect(results).toEqual([0, -EPERM, -EEXIST, -ENOENT, 0, 0, 3, -ENOENT, -EINVAL]);
    expect(fs.statSync(path.join(root, 'f')).nlink).toBe(3); // f, g, lf
    expect(fs.lstatSync(path.join(root, 'll')).isSymbolicLink()).toBe(true); // the link itself
  });
});

describe('Linux model files: errors', () => {
  it('-EBADF for closed or wrong-mode descriptors, -EFAULT for bad buffers, and the offset does not move', () => {
    const root = tempDir();
    fs.writeFileSync(path.join(root, 'f'), '0123456789');
    const { k } = bootAt(root);
    let text = '';
    const { results } = script(k, [
      (cpu) => syscall(cpu, NR.read, 3, BUF, 10), // nothing open at 3
      (cpu) => syscall(cpu, NR.write, 99, BUF, 10),
      (cpu) => syscall(cpu, NR.fstat, 42, BUF),
      (cpu) => syscall(cpu, NR.lseek, -1, 0, SEEK_SET),
      (cpu) => syscall(cpu, NR.dup2, 77, 5),
      (cpu) => syscall(cpu, NR.open, UNMAPPED, O_RDONLY),
      (cpu) => syscall(cpu, NR.open, PAGE_OFFSET + 0x1000, O_RDONLY),
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/f'), O_RDONLY),
      (cpu) => syscall(cpu, NR.read, 3, UNMAPPED, 4),
      (cpu) => syscall(cpu, NR.read, 3, BUF, 4), // still from offset 0
      (cpu, n) => {
        text = getStr(cpu, BUF, n);
        syscall(cpu, NR.write, 3, BUF, 4); // opened read-only
      },
      (cpu) => syscall(cpu, NR.fstat, 3, PAGE_OFFSET),
      (cpu) => syscall(cpu, NR.stat, putStr(cpu, PATH, '/f'), UNMAPPED),
      (cpu) => syscall(cpu, NR.pipe, UNMAPPED),
      (cpu) => syscall(cpu, NR.close, 3),
      (cpu) => syscall(cpu, NR.close, 3),
      (cpu) => syscall(cpu, NR.read, 3, BUF, 4),
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/f'), O_WRONLY), // the failed pipe left no fds
      (cpu) => syscall(cpu, NR.read, 3, BUF, 4),
      (cpu) => syscall(cpu, NR.write, 3, UNMAPPED, 4),
      (cpu) => syscall(cpu, NR.read, 1, BUF, 4), // stdout is write-only
    ]);
    runAll(k);
    expect(results).toEqual([
      -EBADF, -EBADF, -EBADF, -EBADF, -EBADF, -EFAULT, -EFAULT, 3, -EFAULT, 4, -EBADF, -EFAULT, -EFAULT,
      -EFAULT, 0, -EBADF, -EBADF, 3, -EBADF, -EFAULT, -EBADF,
    ]);
    expect(text).toBe('0123');
  });
});

describe('Linux model files: the name space', () => {
  it('mkdir, rename, access, unlink, rmdir, openat and their errors', () => {
    const root = tempDir();
    fs.writeFileSync(path.join(root, 'plain'), 'x');
    const { k } = bootAt(root);
    const { results } = script(k, [
      (cpu) => syscall(cpu, NR.mkdir, putStr(cpu, PATH, '/d'), 0o755),
      (cpu) => syscall(cpu, NR.mkdir, putStr(cpu, PATH, '/d'), 0o755),
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/d/f'), O_CREAT | O_WRONLY | O_EXCL, 0o600),
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/d/f'), O_CREAT | O_WRONLY | O_EXCL, 0o600),
      (cpu) => syscall(cpu, NR.rename, putStr(cpu, PATH, '/d/f'), putStr(cpu, PATH2, '/d/g')),
      (cpu) => syscall(cpu, NR.access, putStr(cpu, PATH, '/d/g'), R_OK | W_OK),
      (cpu) => syscall(cpu, NR.access, putStr(cpu, PATH, '/d/f'), F_OK),
      (cpu) => syscall(cpu, NR.access, putStr(cpu, PATH, '/d/g'), 8),
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/d'), O_RDONLY | O_DIRECTORY), // fd 4
      (cpu, dfd) => syscall(cpu, NR.faccessat, dfd, putStr(cpu, PATH, 'g'), W_OK),
      (cpu) => syscall(cpu, NR.openat, 4, putStr(cpu, PATH, 'h'), O_CREAT | O_WRONLY, 0o644), // fd 5
      (cpu) => syscall(cpu, NR.openat, 3, putStr(cpu, PATH, 'h'), O_RDONLY), // 3 is a file
      (cpu) => syscall(cpu, NR.openat, 99, putStr(cpu, PATH, 'h'), O_RDONLY),
      (cpu) => syscall(cpu, NR.openat, 99, putStr(cpu, PATH, '/plain'), O_RDONLY), // absolute: dirfd unused
      (cpu) => syscall(cpu, NR.unlink, putStr(cpu, PATH, '/d')),
      (cpu) => syscall(cpu, NR.unlinkat, AT_FDCWD, putStr(cpu, PATH, '/d'), AT_REMOVEDIR),
      (cpu) => syscall(cpu, NR.unlinkat, 4, putStr(cpu, PATH, 'g'), 0),
      (cpu) => syscall(cpu, NR.unlink, putStr(cpu, PATH, '/d/h')),
      (cpu) => syscall(cpu, NR.rmdir, putStr(cpu, PATH, '/d')),
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/d/g'), O_RDONLY),
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/nodir/x'), O_CREAT | O_WRONLY, 0o644),
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/plain/x'), O_RDONLY),
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/'), O_WRONLY),
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/plain'), O_RDONLY | O_DIRECTORY),
      (cpu) => syscall(cpu, NR.mkdir, putStr(cpu, PATH, '/e/'), 0o700),
      (cpu) => syscall(cpu, NR.rmdir, putStr(cpu, PATH, '/plain')),
      (cpu) => syscall(cpu, NR.rmdir, putStr(cpu, PATH, '/')),
      (cpu) => syscall(cpu, NR.chdir, putStr(cpu, PATH, '/plain')),
      (cpu) => syscall(cpu, NR.access, putStr(cpu, PATH, '/plain'), X_OK),
    ]);
    runAll(k);
    expect(results).toEqual([
      0, -EEXIST, 3, -EEXIST, 0, 0, -ENOENT, -EINVAL, 4, 0, 5, -ENOTDIR, -EBADF, 6, -EISDIR, -ENOTEMPTY, 0,
      0, 0, -ENOENT, -ENOENT, -ENOTDIR, -EISDIR, -ENOTDIR, 0, -ENOTDIR, expect.any(Number), -ENOTDIR, -EACCES,
    ]);
    expect(results[26]).toBeLessThan(0); // rmdir("/"): EBUSY
    expect(fs.existsSync(path.join(root, 'd'))).toBe(false);
    expect(fs.statSync(path.join(root, 'e')).isDirectory()).toBe(true);
    expect(fs.statSync(path.join(root, 'e')).mode & 0o777).toBe(0o700);
  });

  it('ftruncate, fsync, umask, chdir/getcwd, and relative paths from the cwd', () => {
    const root = tempDir();
    const { k } = bootAt(root);
    let cwd = '';
    const { results } = script(k, [
      (cpu) => syscall(cpu, NR.umask, 0o077),
      (cpu) => syscall(cpu, NR.mkdir, putStr(cpu, PATH, 'work'), 0o777),
      (cpu) => syscall(cpu, NR.chdir, putStr(cpu, PATH, 'work')),
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, 'f'), O_CREAT | O_RDWR, 0o666),
      (cpu) => syscall(cpu, NR.write, 3, putStr(cpu, BUF, '0123456789'), 10),
      (cpu) => syscall(cpu, NR.ftruncate, 3, 3),
      (cpu) => syscall(cpu, NR.fsync, 3),
      (cpu) => syscall(cpu, NR.ftruncate, 3, -1),
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '../work/./f'), O_RDONLY),
      (cpu, fd) => syscall(cpu, NR.ftruncate, fd, 0), // read-only
      (cpu) => syscall(cpu, NR.getcwd, BUF, 4096),
      (cpu, n) => {
        cwd = getStr(cpu, BUF, n - 1);
        syscall(cpu, NR.umask, 0o022);
      },
    ]);
    runAll(k);
    expect(results).toEqual([0o022, 0, 0, 3, 10, 0, 0, -EINVAL, 4, -EINVAL, 6, 0o077]);
    expect(cwd).toBe('/work');
    const f = path.join(root, 'work', 'f');
    expect(fs.readFileSync(f, 'utf8')).toBe('012');
    expect(fs.statSync(f).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(root, 'work')).mode & 0o777).toBe(0o700);
  });
});

describe('Linux model files: descriptors', () => {
  it('dup shares the offset, FD_CLOEXEC is per descriptor, F_SETFL O_APPEND, and the last close releases', () => {
    const root = tempDir();
    fs.writeFileSync(path.join(root, 'f'), 'abcdef');
    const { k } = bootAt(root);
    let two = '';
    const { p, results } = script(k, [
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/f'), O_RDWR), // 3
      (cpu) => syscall(cpu, NR.dup, 3), // 4
      (cpu) => syscall(cpu, NR.lseek, 4, 2, SEEK_SET),
      (cpu) => syscall(cpu, NR.read, 3, BUF, 2),
      (cpu) => {
        two = getStr(cpu, BUF, 2);
        syscall(cpu, NR.fcntl, 3, F_GETFD);
      },
      (cpu) => syscall(cpu, NR.fcntl, 3, F_SETFD, FD_CLOEXEC),
      (cpu) => syscall(cpu, NR.fcntl, 3, F_GETFD),
      (cpu) => syscall(cpu, NR.fcntl, 4, F_GETFD),
      (cpu) => syscall(cpu, NR.dup3, 3, 10, O_CLOEXEC),
      (cpu) => syscall(cpu, NR.fcntl, 10, F_GETFD),
      (cpu) => syscall(cpu, NR.dup2, 3, 3),
      (cpu) => syscall(cpu, NR.dup3, 3, 3, 0),
      (cpu) => syscall(cpu, NR.fcntl, 3, F_GETFL),
      (cpu) => syscall(cpu, NR.fcntl, 3, F_SETFL, O_APPEND | O_WRONLY), // the access mode cannot change
      (cpu) => syscall(cpu, NR.fcntl, 4, F_GETFL),
      (cpu) => syscall(cpu, NR.write, 3, putStr(cpu, BUF, 'Z'), 1),
      (cpu) => syscall(cpu, NR.fcntl, 3, F_DUPFD, 20),
      (cpu) => syscall(cpu, NR.fcntl, 3, F_DUPFD_CLOEXEC, 20),
      (cpu) => syscall(cpu, NR.fcntl, 21, F_GETFD),
      (cpu) => syscall(cpu, NR.close, 3),
      (cpu) => syscall(cpu, NR.close, 10),
      (cpu) => syscall(cpu, NR.close, 20),
      (cpu) => syscall(cpu, NR.close, 21),
      (cpu) => syscall(cpu, NR.pread64, 4, BUF, 10, 0), // 4 still holds the file
      (cpu) => syscall(cpu, NR.dup2, 4, 1), // stdout now the file
      (cpu) => syscall(cpu, NR.write, 1, putStr(cpu, BUF, '!'), 1),
      (cpu) => syscall(cpu, NR.dup2, 4, 5000), // beyond RLIMIT_NOFILE
      (cpu) => syscall(cpu, NR.fcntl, 4, 999),
    ]);
    runAll(k);
    expect(results).toEqual([
      3, 4, 2, 2, 0, 0, FD_CLOEXEC, 0, 10, FD_CLOEXEC, 3, -EINVAL, O_RDWR | O_LARGEFILE, 0,
      O_RDWR | O_APPEND | O_LARGEFILE, 1, 20, 21, FD_CLOEXEC, 0, 0, 0, 0, 7, 1, 1, -EBADF, -EINVAL,
    ]);
    expect(two).toBe('cd');
    expect(fs.readFileSync(path.join(root, 'f'), 'utf8')).toBe('abcdefZ!');
    expect(p.files.size).toBe(0);
  });

  it('a process that opens past RLIMIT_NOFILE gets -EMFILE', () => {
    const root = tempDir();
    const { k } = bootAt(root);
    const steps = [(cpu: Parameters<typeof putStr>[0]) => {
      // RLIMIT_NOFILE = {5, 5}
      cpu.mmu.write64Number(BUF2, 5);
      cpu.mmu.write64Number(BUF2 + 8, 5);
      syscall(cpu, NR.setrlimit, 7, BUF2);
    }];
    for (let i = 0; i < 3; i++) steps.push((cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/'), O_RDONLY));
    const { results } = script(k, steps);
    runAll(k);
    expect(results).toEqual([0, 3, 4, -EMFILE]);
  });
});

describe('Linux model files: console and devices', () => {
  it('fd 0 reads kernel.stdin; fds 0-2 are a pipe unless the host fd is a terminal (TCGETS, TIOCGWINSZ)', () => {
    const root = tempDir();
    fs.writeFileSync(path.join(root, 'f'), 'x');
    const { k, out } = bootAt(root);
    const input = [Buffer.from('line one\n'), Buffer.from('')];
    k.stdin = () => input.shift() ?? new Uint8Array();
    let tty = false;
    k.isatty = () => tty;
    const seen: string[] = [];
    let termios = new Uint8Array();
    let winsize = new Uint8Array();
    let statNoTty = 0n;
    let statTty: Record<string, bigint> = {};
    const { results } = script(k, [
      (cpu) => syscall(cpu, NR.read, 0, UNMAPPED, 4), // fault: the input is kept
      (cpu) => syscall(cpu, NR.read, 0, BUF, 5),
      (cpu, n) => {
        seen.push(getStr(cpu, BUF, n));
        syscall(cpu, NR.read, 0, BUF, 100);
      },
      (cpu, n) => {
        seen.push(getStr(cpu, BUF, n));
        syscall(cpu, NR.read, 0, BUF, 100); // end of file
      },
      (cpu) => syscall(cpu, NR.ioctl, 1, TCGETS, BUF),
      (cpu) => syscall(cpu, NR.ioctl, 1, TIOCGWINSZ, BUF),
      (cpu) => syscall(cpu, NR.fstat, 1, BUF),
      (cpu) => {
        statNoTty = parseStat(getBytes(cpu, BUF, 144)).mode!;
        tty = true;
        syscall(cpu, NR.ioctl, 1, TCGETS, BUF);
      },
      (cpu) => {
        termios = getBytes(cpu, BUF, 36);
        syscall(cpu, NR.ioctl, 0, TIOCGWINSZ, BUF);
      },
      (cpu) => {
        winsize = getBytes(cpu, BUF, 8);
        syscall(cpu, NR.fstat, 2, BUF);
      },
      (cpu) => {
        statTty = parseStat(getBytes(cpu, BUF, 144));
        syscall(cpu, NR.ioctl, 1, TCGETS, UNMAPPED);
      },
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/f'), O_RDONLY),
      (cpu, fd) => syscall(cpu, NR.ioctl, fd, TCGETS, BUF), // a regular file is no terminal
      (cpu) => syscall(cpu, NR.ioctl, 99, TCGETS, BUF),
      (cpu) => syscall(cpu, NR.lseek, 1, 0, SEEK_SET),
      (cpu) => syscall(cpu, NR.write, 2, putStr(cpu, BUF, 'to stderr\n'), 10),
    ]);
    runAll(k);
    expect(results).toEqual([-EFAULT, 5, 4, 0, -ENOTTY, -ENOTTY, 0, 0, 0, 0, -EFAULT, 3, -ENOTTY, -EBADF, -ESPIPE, 10]);
    expect(seen).toEqual(['line ', 'one\n']);
    expect(Number(statNoTty) & S_IFMT).toBe(S_IFIFO);
    expect(Number(statTty.mode!) & S_IFMT).toBe(S_IFCHR);
    expect(statTty.rdev).toBe(136n << 8n);
    const tv = new DataView(termios.buffer);
    expect(tv.getUint32(12, true) & 0o2).toBe(0o2); // ICANON
    expect(termios[17]).toBe(3); // VINTR = ^C
    const wv = new DataView(winsize.buffer);
    expect(wv.getUint16(0, true)).toBeGreaterThan(0);
    expect(wv.getUint16(2, true)).toBeGreaterThan(0);
    expect(out.join('')).toBe('to stderr\n');
  });

  it('/dev/null, /dev/zero and /dev/urandom are built in', () => {
    const root = tempDir();
    const { k } = bootAt(root);
    let zeros = new Uint8Array();
    let statNull: Record<string, bigint> = {};
    const { results } = script(k, [
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/dev/null'), O_RDWR),
      (cpu) => syscall(cpu, NR.read, 3, BUF, 10),
      (cpu) => syscall(cpu, NR.write, 3, BUF, 10),
      (cpu) => {
        putBytes(cpu, BUF, new Uint8Array(16).fill(0xff));
        syscall(cpu, NR.open, putStr(cpu, PATH, '/dev/zero'), O_RDONLY);
      },
      (cpu) => syscall(cpu, NR.read, 4, BUF, 16),
      (cpu) => {
        zeros = getBytes(cpu, BUF, 16);
        syscall(cpu, NR.stat, putStr(cpu, PATH, '/dev/../dev/null'), BUF);
      },
      (cpu) => {
        statNull = parseStat(getBytes(cpu, BUF, 144));
        syscall(cpu, NR.open, putStr(cpu, PATH, '/dev/urandom'), O_RDONLY);
      },
      (cpu) => syscall(cpu, NR.read, 5, BUF, 32),
      (cpu) => syscall(cpu, NR.access, putStr(cpu, PATH, '/dev/zero'), R_OK | W_OK),
    ]);
    runAll(k);
    expect(results).toEqual([3, 0, 10, 4, 16, 0, 5, 32, 0]);
    expect([...zeros]).toEqual(new Array(16).fill(0));
    expect(Number(statNull.mode!) & S_IFMT).toBe(S_IFCHR);
    expect(statNull.rdev).toBe(0x103n); // 1:3
  });
});

describe('Linux model files: the less common calls', () => {
  it('symlink/readlinkat, truncate, getdents, fchdir, renameat2, mkdirat, O_PATH, FIONREAD and FIONBIO', () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'd'));
    fs.writeFileSync(path.join(root, 'd', 'x'), 'abcdef');
    fs.writeFileSync(path.join(root, 'd', 'y'), 'y');
    const { k } = bootAt(root);
    const rec: Record<string, unknown> = {};
    const { results } = script(k, [
      (cpu) => syscall(cpu, NR.symlink, putStr(cpu, PATH, 'x'), putStr(cpu, PATH2, '/d/lx')),
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, '/d'), O_RDONLY | O_DIRECTORY), // 3
      (cpu) => syscall(cpu, NR.readlinkat, 3, putStr(cpu, PATH, 'lx'), BUF, 100),
      (cpu, n) => {
        rec.link = getStr(cpu, BUF, n);
        syscall(cpu, NR.truncate, putStr(cpu, PATH, '/d/lx'), 2); // through the link
      },
      (cpu) => syscall(cpu, NR.getdents, 3, BUF, 4096),
      (cpu, n) => {
        // struct linux_dirent: d_ino, d_off, d_reclen, d_name, …, d_type in the last byte.
        const raw = getBytes(cpu, BUF, n);
        const dv = new DataView(raw.buffer);
        const names: string[] = [];
        for (let o = 0; o < raw.length; o += dv.getUint16(o + 16, true)) {
          const rl = dv.getUint16(o + 16, true);
          const nm = raw.subarray(o + 18, o + rl);
          names.push(`${Buffer.from(nm.subarray(0, nm.indexOf(0))).toString()}:${raw[o + rl - 1]}`);
        }
        rec.names = names;
        syscall(cpu, NR.fchdir, 3);
      },
      (cpu) => syscall(cpu, NR.renameat2, AT_FDCWD, putStr(cpu, PATH, 'y'), 3, putStr(cpu, PATH2, 'x'), 1), // NOREPLACE
      (cpu) => syscall(cpu, NR.renameat2, AT_FDCWD, putStr(cpu, PATH, 'y'), 3, putStr(cpu, PATH2, 'z'), 1),
      (cpu) => syscall(cpu, NR.mkdirat, 3, putStr(cpu, PATH, 'sub'), 0o755),
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, 'lx'), O_PATH | O_NOFOLLOW), // the link itself: 4
      (cpu) => syscall(cpu, NR.fstat, 4, BUF),
      (cpu) => {
        rec.pathMode = Number(parseStat(getBytes(cpu, BUF, 144)).mode) & S_IFMT;
        syscall(cpu, NR.read, 4, BUF, 1);
      },
      (cpu) => syscall(cpu, NR.open, putStr(cpu, PATH, 'x'), O_RDONLY), // 5
      (cpu) => syscall(cpu, NR.ioctl, 5, FIONREAD, BUF),
      (cpu) => {
        rec.fionread = cpu.mmu.read32(BUF);
        syscall(cpu, NR.pipe, BUF2);
      },
      (cpu) => {
        cpu.mmu.write32(BUF, 1);
        syscall(cpu, NR.ioctl, 6, FIONBIO, BUF); // the read end
      },
      (cpu) => syscall(cpu, NR.read, 6, BUF, 1),
      (cpu) => syscall(cpu, NR.fcntl, 5, F_GETLK, BUF),
      (cpu) => {
        rec.lockType = cpu.mmu.read16(BUF);
        syscall(cpu, NR.faccessat2, AT_FDCWD, putStr(cpu, PATH, 'lx'), W_OK, AT_SYMLINK_NOFOLLOW);
      },
    ]);
    runAll(k);
    expect(results).toEqual([0, 3, 1, 0, expect.any(Number), 0, -EEXIST, 0, 0, 4, 0, -EBADF, 5, 0, 0, 0, -EAGAIN, 0, 0]);
    expect(rec).toEqual({
      link: 'x', names: ['.:4', '..:4', 'lx:10', 'x:8', 'y:8'], pathMode: S_IFLNK, fionread: 2, lockType: F_UNLCK,
    });
    expect(fs.readFileSync(path.join(root, 'd', 'x'), 'utf8')).toBe('ab');
    expect(fs.readFileSync(path.join(root, 'd', 'z'), 'utf8')).toBe('y');
    expect(fs.statSync(path.join(root, 'd', 'sub')).isDirectory()).toBe(true);
  });
});
