import { describe, expect, it } from 'vitest';
import { isRoot, runInit } from '../helpers/init-harness.js';
import { makeFakeEtc } from '../helpers/fake-etc.js';

const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZ2VudC0xIiwiZXhwIjo5OTk5OTk5OTk5fQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
const TRANSPORT = 'ya29.a0AfH6SMBtransporttokenvalue_0123456789';
const REPORT = 'echo "uid=$(id -u) gid=$(id -g) groups=$(id -G) name=$(id -un) user=$USER home=$HOME logname=$LOGNAME"; env | grep -c "^SCION_AUTH_TOKEN=\\|^SCION_TRANSPORT_TOKEN=" || true';

function report(stdout: string): Record<string, string> {
  const line = stdout.split('\n').find((l) => l.startsWith('uid=')) ?? '';
  return Object.fromEntries(line.split(' ').map((kv) => kv.split('=') as [string, string]));
}

describe.runIf(isRoot)('privilege drop', () => {
  it('runs the child as the agent user with supplementary groups cleared and no bootstrap secret', async () => {
    const etc = makeFakeEtc();
    const r = await runInit({
      pid1: true,
      prelude: etc.prelude,
      env: { SCION_AUTH_TOKEN: JWT, SCION_TRANSPORT_TOKEN: TRANSPORT },
      args: ['init', '--', 'sh', '-c', REPORT],
    });
    expect(r.code).toBe(0);
    expect(report(r.stdout)).toEqual({
      uid: '4321',
      gid: '4321',
      // scion is a member of scionextra (4999) in /etc/group, but the child gets no supplementary groups.
      groups: '4321',
      name: 'scion',
      user: 'scion',
      home: etc.home,
      logname: 'scion',
    });
    // grep -c counted zero bootstrap variables in the child's environment.
    expect(r.stdout.trim().split('\n').pop()).toBe('0');
  });

  it('remaps the agent user to SCION_HOST_UID/SCION_HOST_GID and hands its home over', async () => {
    const etc = makeFakeEtc();
    const r = await runInit({
      pid1: true,
      prelude: etc.prelude,
      env: { SCION_HOST_UID: '5001', SCION_HOST_GID: '5002' },
      args: ['init', '--', 'sh', '-c', `${REPORT}; echo "owner=$(stat -c %u:%g $HOME/.profile)"; grep '^scion:' /etc/passwd; grep '^scion:' /etc/group`],
    });
    expect(r.code).toBe(0);
    expect(report(r.stdout)).toMatchObject({ uid: '5001', gid: '5002', groups: '5002', name: 'scion' });
    expect(r.stdout).toContain('owner=5001:5002');
    expect(r.stdout).toMatch(/^scion:x:5001:5002:/m);
    expect(r.stdout).toMatch(/^scion:x:5002:/m);
    expect(r.logs.find((l) => l.msg === 'remapped the agent user to the host ids')).toMatchObject({ to: { uid: 5001, gid: 5002 } });
  });

  it('refuses to remap the agent user to root', async () => {
    const etc = makeFakeEtc();
    const r = await runInit({
      pid1: true,
      prelude: etc.prelude,
      env: { SCION_HOST_UID: '0', SCION_HOST_GID: '0' },
      args: ['init', '--', 'sh', '-c', REPORT],
    });
    expect(report(r.stdout)).toMatchObject({ uid: '4321', gid: '4321' });
  });

  it('without root, runs the child as it is and says so', async () => {
    const r = await runInit({
      wrapper: ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups', '--'],
      env: { SCION_AUTH_TOKEN: JWT },
      args: ['init', '--', 'sh', '-c', REPORT],
    });
    expect(r.code).toBe(0);
    expect(report(r.stdout)).toMatchObject({ uid: '65534', gid: '65534' });
    expect(r.stdout.trim().split('\n').pop()).toBe('0');
    expect(r.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('not running as root'))).toBe(true);
  });
});
