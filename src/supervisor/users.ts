/**
 * The agent user: who the child runs as. Reads /etc/passwd and /etc/group directly
 * (Node has no getpwnam), and applies Scion's SCION_HOST_UID/SCION_HOST_GID remap so
 * that files the agent writes on bind mounts belong to the host user.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, fsyncSync, lchownSync, lstatSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../log.js';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || line.startsWith('#')) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid) || f[2] === '' || f[3] === '') continue;
    out.push({ name: f[0] as string, uid, gid, home: f[5] as string, shell: f[6] as string });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || line.startsWith('#') || f[2] === '') continue;
    const gid = Number(f[2]);
    if (!Number.isInteger(gid)) continue;
    out.push({ name: f[0] as string, gid, members: (f[3] as string).split(',').filter((m) => m !== '') });
  }
  return out;
}

export interface UserDb {
  passwdPath: string;
  groupPath: string;
}

export const SYSTEM_USER_DB: UserDb = { passwdPath: '/etc/passwd', groupPath: '/etc/group' };

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export function lookupUser(name: string, db: UserDb = SYSTEM_USER_DB): PasswdEntry | undefined {
  return parsePasswd(readOrEmpty(db.passwdPath)).find((e) => e.name === name);
}

/** The primary gid plus every group that lists the user as a member. */
export function groupsOf(user: PasswdEntry, db: UserDb = SYSTEM_USER_DB): number[] {
  const gids = new Set<number>([user.gid]);
  for (const g of parseGroup(readOrEmpty(db.groupPath))) if (g.members.includes(user.name)) gids.add(g.gid);
  return [...gids];
}

export type IdentityMode = 'drop' | 'rootless-agent' | 'as-is';

export interface AgentIdentity {
  mode: IdentityMode;
  uid: number;
  gid: number;
  /** Set when the child runs as the agent user (drop or rootless-agent). */
  user: PasswdEntry | undefined;
  /** Home used for the child's HOME and for ~/.scion paths. */
  home: string;
  /** Groups the agent user holds; used to judge whether it can write a hook. */
  agentGids: number[];
}

/** Whether `id` is mapped in this user namespace (/proc/self/uid_map or gid_map). */
export function idIsMapped(id: number, mapPath: string): boolean {
  let text: string;
  try {
    text = readFileSync(mapPath, 'utf8');
  } catch {
    return true; // no user namespaces: every id exists
  }
  for (const line of text.trim().split('\n')) {
    const [inside, , count] = line.trim().split(/\s+/).map(Number);
    if (inside !== undefined && count !== undefined && id >= inside && id < inside + count) return true;
  }
  return false;
}

/** Atomically rewrites a passwd-format file, keeping its mode and owner; nothing is left half-written. */
function rewriteAtomically(path: string, text: string): void {
  const st = statSync(path);
  const tmp = join(dirname(path), `.${basename(path)}.sciontool.${randomBytes(6).toString('hex')}`);
  const fd = openSync(tmp, 'wx', st.mode & 0o7777);
  try {
    writeFileSync(fd, text); // loops until every byte is written
    fsyncSync(fd);
    closeSync(fd);
    chmodSync(tmp, st.mode & 0o7777);
    chownSync(tmp, st.uid, st.gid);
    renameSync(tmp, path);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw err;
  }
}

function replaceField(text: string, name: string, index: number, value: number): string {
  return text
    .split('\n')
    .map((line) => {
      const f = line.split(':');
      if (f[0] !== name || f.length <= index) return line;
      f[index] = String(value);
      return f.join(':');
    })
    .join('\n');
}

export interface ChownResult {
  changed: number;
  failed: number;
  firstError: string | undefined;
}

/**
 * Gives files under `root` owned by the old ids to the new ids. Never follows
 * symlinks, stays on the root's file system (a bind mount inside the home is not
 * ours to change), and goes on past a file it cannot change.
 */
export function rechownTree(root: string, from: { uid: number; gid: number }, to: { uid: number; gid: number }): ChownResult {
  const out: ChownResult = { changed: 0, failed: 0, firstError: undefined };
  let dev: number | undefined;
  const stack = [root];
  while (stack.length > 0) {
    const path = stack.pop() as string;
    let st;
    try {
      st = lstatSync(path);
    } catch {
      continue;
    }
    dev ??= st.dev;
    if (st.dev !== dev) continue;
    const uid = st.uid === from.uid ? to.uid : st.uid;
    const gid = st.gid === from.gid ? to.gid : st.gid;
    if (uid !== st.uid || gid !== st.gid) {
      try {
        lchownSync(path, uid, gid);
        out.changed++;
      } catch (err) {
        out.failed++;
        out.firstError ??= `${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      }
    }
    if (st.isDirectory()) {
      try {
        for (const name of readdirSync(path)) stack.push(join(path, name));
      } catch {
        // unreadable directory: nothing below it to hand over
      }
    }
  }
  return out;
}

/**
 * Hands the home to the agent's ids. Judged by who owns the home itself, so a run
 * that was cut short (passwd rewritten, chown not finished) is completed next boot.
 */
function handOverHome(home: string, to: { uid: number; gid: number }, log: Logger): void {
  let st;
  try {
    st = lstatSync(home);
  } catch {
    return;
  }
  if (!st.isDirectory() || (st.uid === to.uid && st.gid === to.gid)) return;
  if (st.uid === 0) {
    // A root-owned home is deliberate; handing root's files to the agent is not ours to do.
    log.warn({ home }, 'the agent home is owned by root: left as it is');
    return;
  }
  const r = rechownTree(home, { uid: st.uid, gid: st.gid }, to);
  const fields = { home, from: { uid: st.uid, gid: st.gid }, to, chowned: r.changed, failed: r.failed, firstError: r.firstError };
  if (r.failed > 0) log.warn(fields, 'could not hand every file of the agent home to the agent ids');
  else log.info(fields, 'handed the agent home to the agent ids');
}

export interface IdentityRequest {
  agentUser: string;
  hostUid: number | undefined;
  hostGid: number | undefined;
}

/**
 * Decides who the child runs as, remapping the agent user to the host ids first
 * when asked to. Never makes the agent root: a remap to id 0 is refused.
 */
export function resolveAgentIdentity(req: IdentityRequest, log: Logger, db: UserDb = SYSTEM_USER_DB): AgentIdentity {
  const myUid = process.getuid?.() ?? 0;
  const myGid = process.getgid?.() ?? 0;
  const asIs = (home: string): AgentIdentity => ({ mode: 'as-is', uid: myUid, gid: myGid, user: undefined, home, agentGids: [] });
  let user = lookupUser(req.agentUser, db);

  if (myUid !== 0) {
    if (user && user.uid === myUid) {
      log.info({ uid: myUid, user: user.name }, 'not running as root: the child runs as the agent user without a privilege change');
      return { mode: 'rootless-agent', uid: myUid, gid: myGid, user, home: user.home, agentGids: groupsOf(user, db) };
    }
    log.info({ uid: myUid, gid: myGid }, 'not running as root: the child runs with init\'s own uid and gid');
    return asIs(process.env.HOME ?? '/');
  }

  if (!user) {
    log.warn({ agentUser: req.agentUser }, 'agent user does not exist: the child runs as root');
    return asIs(process.env.HOME ?? '/root');
  }

  const wantUid = req.hostUid ?? user.uid;
  const wantGid = req.hostGid ?? user.gid;
  if (wantUid === 0 || wantGid === 0) {
    log.warn({ hostUid: req.hostUid, hostGid: req.hostGid }, 'refusing to remap the agent user to root (id 0): keeping its own ids');
  } else if (wantUid !== user.uid || wantGid !== user.gid) {
    if (!idIsMapped(wantUid, '/proc/self/uid_map') || !idIsMapped(wantGid, '/proc/self/gid_map')) {
      log.warn({ hostUid: wantUid, hostGid: wantGid }, 'host ids are not mapped in this user namespace: keeping the agent user\'s own ids');
    } else {
      const from = { uid: user.uid, gid: user.gid };
      try {
        // The group first and passwd last: passwd is what says the remap happened, so a
        // run cut short in between is redone in full on the next boot.
        const groups = parseGroup(readOrEmpty(db.groupPath));
        const primary = groups.find((g) => g.gid === from.gid && g.name === user?.name);
        if (wantGid !== from.gid && primary) rewriteAtomically(db.groupPath, replaceField(readFileSync(db.groupPath, 'utf8'), primary.name, 2, wantGid));
        let passwd = readFileSync(db.passwdPath, 'utf8');
        passwd = replaceField(passwd, user.name, 2, wantUid);
        passwd = replaceField(passwd, user.name, 3, wantGid);
        rewriteAtomically(db.passwdPath, passwd);
        log.info({ user: user.name, from, to: { uid: wantUid, gid: wantGid } }, 'remapped the agent user to the host ids');
      } catch (err) {
        // /etc is read-only or bind-mounted: run with the numeric ids all the same.
        log.warn({ err: (err as Error).message }, 'could not rewrite /etc/passwd or /etc/group; the child runs with the host ids without a name');
      }
      user = { ...user, uid: wantUid, gid: wantGid };
    }
  }

  if (user.uid === 0) return asIs(user.home);
  handOverHome(user.home, { uid: user.uid, gid: user.gid }, log);
  return { mode: 'drop', uid: user.uid, gid: user.gid, user, home: user.home, agentGids: groupsOf(user, db) };
}
