/**
 * A credential file (the agent token, the transport token). Writes are atomic: a
 * unique temp file in the same directory, fsync, fchown to the agent user, rename,
 * fsync of the directory, so a reader never sees a torn or empty token. Reads refuse
 * symlinks, non-regular files and files over 8 KiB, and ignore an empty read.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchownSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';

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

  /**
   * The directory, opened without following a symlink, so every later step works on
   * the directory that was checked: the agent owns the home and may swap `.scion` for a
   * link at any moment, and init is root. Paths go through /proc/self/fd/<dir>.
   */
  private openDir(create: boolean): number {
    const dir = dirname(this.path);
    if (create) {
      try {
        mkdirSync(dir, { mode: 0o700 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') mkdirSync(dir, { recursive: true, mode: 0o700 });
        else if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    let dfd: number;
    try {
      dfd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP' || code === 'ENOTDIR') throw new Error(`refusing to use ${this.path}: ${dir} is a symlink or not a directory`);
      throw err;
    }
    if (create && this.owner) {
      const st = fstatSync(dfd);
      if (st.uid !== this.owner.uid || st.gid !== this.owner.gid) fchownSync(dfd, this.owner.uid, this.owner.gid);
    }
    return dfd;
  }

  read(): ReadResult {
    let dfd: number;
    try {
      dfd = this.openDir(false);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { ok: false, reason: 'missing' };
      return { ok: false, reason: 'symlink', detail: (err as Error).message };
    }
    let fd: number;
    try {
      fd = openSync(`/proc/self/fd/${dfd}/${basename(this.path)}`, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { ok: false, reason: 'missing' };
      if (code === 'ELOOP') return { ok: false, reason: 'symlink' };
      return { ok: false, reason: 'unreadable', detail: code ?? (err as Error).message };
    } finally {
      closeSync(dfd);
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

  write(token: string): void {
    if (token.length === 0 || token.length > MAX_TOKEN_FILE_BYTES - 1) throw new Error(`refusing to write a token of ${token.length} bytes to ${this.path}`);
    const dfd = this.openDir(true);
    try {
      const at = `/proc/self/fd/${dfd}`;
      const tmpName = `.${basename(this.path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
      const fd = openSync(`${at}/${tmpName}`, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        writeFileSync(fd, `${token}\n`);
        if (this.owner) fchownSync(fd, this.owner.uid, this.owner.gid);
        fsyncSync(fd);
      } catch (err) {
        closeSync(fd);
        rmSync(`${at}/${tmpName}`, { force: true });
        throw err;
      }
      closeSync(fd);
      try {
        renameSync(`${at}/${tmpName}`, `${at}/${basename(this.path)}`);
      } catch (err) {
        rmSync(`${at}/${tmpName}`, { force: true });
        throw err;
      }
      // The rename is durable only once the directory is.
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
