import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentControls } from '../../src/init/hooks.js';
import { groupsOf, idIsMapped, parseGroup, parsePasswd } from '../../src/supervisor/users.js';
import { tempDir } from '../helpers/init-harness.js';

describe('passwd and group parsing', () => {
  it('parses entries and skips junk', () => {
    const text = 'root:x:0:0:root:/root:/bin/bash\n# comment\nbroken\nscion:x:1000:1000:Scion:/home/scion:/bin/sh\nbad:x::1:x:/:/bin/sh\n';
    expect(parsePasswd(text)).toEqual([
      { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/bash' },
      { name: 'scion', uid: 1000, gid: 1000, home: '/home/scion', shell: '/bin/sh' },
    ]);
    expect(parseGroup('scion:x:1000:\ndocker:x:999:alice,scion\n')).toEqual([
      { name: 'scion', gid: 1000, members: [] },
      { name: 'docker', gid: 999, members: ['alice', 'scion'] },
    ]);
  });

  it('collects the primary and member groups', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'group'), 'scion:x:1000:\ndocker:x:999:alice,scion\nother:x:5:alice\n');
    const user = { name: 'scion', uid: 1000, gid: 1000, home: '/home/scion', shell: '/bin/sh' };
    expect(groupsOf(user, { passwdPath: join(dir, 'passwd'), groupPath: join(dir, 'group') }).sort()).toEqual([1000, 999]);
  });

  it('reads uid_map ranges', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'map'), '         0     100000      65536\n');
    expect(idIsMapped(0, join(dir, 'map'))).toBe(true);
    expect(idIsMapped(65535, join(dir, 'map'))).toBe(true);
    expect(idIsMapped(65536, join(dir, 'map'))).toBe(false);
  });
});

describe.runIf(process.getuid?.() === 0)('agentControls', () => {
  it('is false for a root-owned hook in root-owned directories', () => {
    const dir = tempDir();
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'hook'), '', { mode: 0o755 });
    expect(agentControls(join(dir, 'hook'), 4321, [4321])).toBe(false);
  });
  it('is true when the agent owns the file, a directory above it, or can write through its group', () => {
    const dir = tempDir();
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'd'));
    writeFileSync(join(dir, 'd', 'hook'), '', { mode: 0o755 });
    chownSync(join(dir, 'd'), 4321, 0);
    expect(agentControls(join(dir, 'd', 'hook'), 4321, [4321])).toBe(true);
    chownSync(join(dir, 'd'), 0, 777);
    chmodSync(join(dir, 'd'), 0o775);
    expect(agentControls(join(dir, 'd', 'hook'), 4321, [777])).toBe(true);
    expect(agentControls(join(dir, 'd', 'hook'), 4321, [4321])).toBe(false);
  });
  it('a sticky world-writable directory protects entries the agent does not own', () => {
    const dir = tempDir();
    chmodSync(dir, 0o1777);
    mkdirSync(join(dir, 'hooks'), { mode: 0o755 });
    writeFileSync(join(dir, 'hooks', 'hook'), '', { mode: 0o755 });
    expect(agentControls(join(dir, 'hooks', 'hook'), 4321, [4321])).toBe(false);
    chmodSync(dir, 0o777);
    expect(agentControls(join(dir, 'hooks', 'hook'), 4321, [4321])).toBe(true);
  });
});
