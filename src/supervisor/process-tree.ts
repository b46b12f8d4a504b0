/**
 * Descendants of a process, read from /proc. Used to signal what escaped the
 * child's process group (setsid'd daemons, re-parented orphans) at shutdown.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  state: string;
  comm: string;
}

/** Parses /proc/<pid>/stat; comm may hold spaces and parentheses, so split after the last ')'. */
export function parseStat(text: string): ProcInfo | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const fields = text.slice(close + 2).split(' ');
  const pid = Number(text.slice(0, open).trim());
  const ppid = Number(fields[1]);
  const pgid = Number(fields[2]);
  if (!Number.isInteger(pid) || !Number.isInteger(ppid) || !Number.isInteger(pgid)) return undefined;
  return { pid, ppid, pgid, state: fields[0] ?? '?', comm: text.slice(open + 1, close) };
}

export function readProcesses(procRoot = '/proc'): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const info = parseStat(readFileSync(`${procRoot}/${name}/stat`, 'latin1'));
      if (info) out.push(info);
    } catch {
      // The process exited between readdir and read.
    }
  }
  return out;
}

/** Every descendant of `root` (not `root` itself), zombies included. */
export function descendants(root: number, procs: ProcInfo[] = readProcesses()): ProcInfo[] {
  const byParent = new Map<number, ProcInfo[]>();
  for (const p of procs) {
    const list = byParent.get(p.ppid);
    if (list) list.push(p);
    else byParent.set(p.ppid, [p]);
  }
  const out: ProcInfo[] = [];
  const stack = [root];
  const seen = new Set<number>([root]);
  while (stack.length > 0) {
    const parent = stack.pop() as number;
    for (const c of byParent.get(parent) ?? []) {
      if (seen.has(c.pid)) continue;
      seen.add(c.pid);
      out.push(c);
      stack.push(c.pid);
    }
  }
  return out;
}

/** Living (non-zombie) descendants. */
export function livingDescendants(root: number): ProcInfo[] {
  return descendants(root).filter((p) => p.state !== 'Z' && p.state !== 'X');
}

/** Sends `signal` to a process group; false when the group is gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Sends `signal` to each pid, ignoring those that are already gone. Returns how many were signalled. */
export function signalEach(pids: number[], signal: NodeJS.Signals): number {
  let n = 0;
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
      n++;
    } catch {
      // Already gone.
    }
  }
  return n;
}
