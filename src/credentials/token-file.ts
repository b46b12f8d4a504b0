/**
 * A credential file (the agent token, the transport token). Writes are atomic: a
 * unique temp file in the same directory, fsync, fchown to the agent user, rename,
 * fsync of the directory, so a reader never sees a torn or empty token. Reads refuse
 * symlinks, non-regular files and files over 8 KiB, and ignore an empty read.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchownSync, fstatSync, fsyncSync, lstatSync, mkdirSync, chownSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export const MAX_TOKEN_FILE_BYTES = 8192;

export type ReadResult = { ok: true; token: string } | { ok: false; reason: 'missing' | 'empty' | 'symlink' | 'not-regular' | 'too-large' | 'unreadable'; detail?: string };

export interface Owner {
  uid: number;
  gid: number;
}

export class TokenFile {
  constructor(
    readonly path: string,
    /** Set when init is root: files and the directory are handed to the agent user. */
    private readonly owner: Owner | undefined,
  ) {}

  read(): ReadResult {
    let fd: number;
    try {
      fd = openSync(this.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { ok: false, reason: 'missing' };
      if (code === 'ELOOP') return { ok: false, reason: 'symlink' };
      return { ok: false, reason: 'unreadable', detail: code ?? (err as Error).message };
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return { ok: false, reason: 'not-regular' };
      if (st.size > MAX_TOKEN_FILE_BYTES) return { ok: false, reason: 'too-large', detail: `${st.size} bytes` };
      const buf = Buffer.alloc(MAX_TOKEN_FILE_BYTES + 1);
      let n = 0;
      for (;;) {
        const r = readSync(fd, buf, n, buf.length - n, null);
        if (r === 0) break;
        n += r;
        if (n > MAX_TOKEN_FILE_BYTES) return { ok: false, reason: 'too-large', detail: `more than ${MAX_TOKEN_FILE_BYTES} bytes` };
      }
      const token = buf.subarray(0, n).toString('utf8').trim();
      if (token === '') return { ok: false, reason: 'empty' };
      return { ok: true, token };
    } catch (err) {
      return { ok: false, reason: 'unreadable', detail: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
    } finally {
      closeSync(fd);
    }
  }

  /** Creates the directory (0700, the agent's) when missing; refuses a symlinked one. */
  private ensureDir(): string {
    const dir = dirname(this.path);
    try {
      const st = lstatSync(dir);
      if (st.isSymbolicLink()) throw new Error(`refusing to write ${this.path}: ${dir} is a symlink`);
      if (!st.isDirectory()) throw new Error(`refusing to write ${this.path}: ${dir} is not a directory`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (this.owner) chownSync(dir, this.owner.uid, this.owner.gid);
    }
    return dir;
  }

  write(token: string): void {
    if (token.length === 0 || token.length > MAX_TOKEN_FILE_BYTES - 1) throw new Error(`refusing to write a token of ${token.length} bytes to ${this.path}`);
    const dir = this.ensureDir();
    const tmp = join(dir, `.${basename(this.path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, `${token}\n`);
      if (this.owner) fchownSync(fd, this.owner.uid, this.owner.gid);
      fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      unlinkSync(tmp);
      throw err;
    }
    closeSync(fd);
    try {
      renameSync(tmp, this.path);
    } catch (err) {
      unlinkSync(tmp);
      throw err;
    }
    // The rename is durable only once the directory is.
    const dfd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }

  remove(): void {
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
