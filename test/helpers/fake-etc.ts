/**
 * A private copy of /etc with an agent user, bind-mounted over /etc inside the test's
 * own mount namespace (unshare --mount-proc gives one), so tests can create users and
 * let init rewrite /etc/passwd without touching the machine's.
 */
import { appendFileSync, chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from './init-harness.js';

export interface FakeEtc {
  dir: string;
  etc: string;
  home: string;
  uid: number;
  gid: number;
  /** Shell lines that mount the copy over /etc; use as the run's prelude. */
  prelude: string;
}

export function makeFakeEtc(opts: { uid?: number; gid?: number; user?: string } = {}): FakeEtc {
  const uid = opts.uid ?? 4321;
  const gid = opts.gid ?? 4321;
  const user = opts.user ?? 'scion';
  const dir = tempDir('sciontool-etc-');
  chmodSync(dir, 0o755);
  const etc = join(dir, 'etc');
  execFileSync('cp', ['-a', '/etc', etc]);
  const home = join(dir, 'home', user);
  mkdirSync(home, { recursive: true });
  chmodSync(join(dir, 'home'), 0o755);
  chownSync(home, uid, gid);
  writeFileSync(join(home, '.profile'), '# agent file\n');
  chownSync(join(home, '.profile'), uid, gid);
  appendFileSync(join(etc, 'passwd'), `${user}:x:${uid}:${gid}:Scion Agent:${home}:/bin/sh\n`);
  appendFileSync(join(etc, 'group'), `${user}:x:${gid}:\nscionextra:x:4999:${user}\n`);
  return { dir, etc, home, uid, gid, prelude: `mount --bind '${etc}' /etc` };
}
