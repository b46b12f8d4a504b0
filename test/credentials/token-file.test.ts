import { spawn } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentToken } from '../../src/credentials/agent-token.js';
import { TokenFile } from '../../src/credentials/token-file.js';
import { createLogger } from '../../src/log.js';
import { Redactor } from '../../src/util/redact.js';
import { fakeJwt } from '../helpers/fake-hub.js';
import { NODE_BIN_DIR, ROOT, isRoot, tempDir } from '../helpers/init-harness.js';

describe('TokenFile', () => {
  it('never shows a concurrent reader a torn or empty token', async () => {
    const dir = tempDir();
    const file = new TokenFile(join(dir, 'scion-token'), undefined);
    file.write('tok-0-aaaa.payload.sig-0');
    const reader = spawn(join(NODE_BIN_DIR, 'node'), [join(ROOT, 'test', 'fixtures', 'token-reader.mjs'), file.path, '2500'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    reader.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const closed = new Promise((r) => reader.on('close', r));
    let writes = 0;
    const until = Date.now() + 2000;
    while (Date.now() < until) {
      writes++;
      // Tokens of varying length, so a torn read would show.
      file.write(`tok-${writes}-${'x'.repeat(1 + (writes % 50)).replace(/x/g, 'b')}.payload.sig-${writes}`);
      if (writes % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    await closed;
    const r = JSON.parse(out) as { reads: number; bad: number; missing: number; samples: string[] };
    expect(writes).toBeGreaterThan(200);
    expect(r.reads).toBeGreaterThan(1000);
    expect(r).toMatchObject({ bad: 0, missing: 0 });
    // No temp file is left behind.
    expect(readdirSync(dir)).toEqual(['scion-token']);
  });

  it('refuses a symlink, a directory, an oversized file; an empty file is "empty"', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'real'), fakeJwt(60));
    symlinkSync(join(dir, 'real'), join(dir, 'link'));
    expect(new TokenFile(join(dir, 'link'), undefined).read()).toMatchObject({ ok: false, reason: 'symlink' });
    mkdirSync(join(dir, 'adir'));
    expect(new TokenFile(join(dir, 'adir'), undefined).read()).toMatchObject({ ok: false, reason: 'not-regular' });
    writeFileSync(join(dir, 'big'), 'x'.repeat(9000));
    expect(new TokenFile(join(dir, 'big'), undefined).read()).toMatchObject({ ok: false, reason: 'too-large' });
    writeFileSync(join(dir, 'empty'), '\n');
    expect(new TokenFile(join(dir, 'empty'), undefined).read()).toMatchObject({ ok: false, reason: 'empty' });
    expect(new TokenFile(join(dir, 'none'), undefined).read()).toMatchObject({ ok: false, reason: 'missing' });
  });

  it('refuses to write through a symlinked directory', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'elsewhere'));
    symlinkSync(join(dir, 'elsewhere'), join(dir, '.scion'));
    expect(() => new TokenFile(join(dir, '.scion', 'scion-token'), undefined).write(fakeJwt(60))).toThrow(/is a symlink/);
    expect(readdirSync(join(dir, 'elsewhere'))).toEqual([]);
  });

  it.runIf(isRoot)('writes 0600 files owned by the agent in a 0700 directory it owns', () => {
    const dir = tempDir();
    chmodSync(dir, 0o755);
    const f = new TokenFile(join(dir, '.scion', 'scion-token'), { uid: 4321, gid: 4322 });
    f.write(fakeJwt(60));
    const st = statSync(f.path);
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([4321, 4322, 0o600]);
    const d = lstatSync(join(dir, '.scion'));
    expect([d.uid, d.gid, d.mode & 0o777]).toEqual([4321, 4322, 0o700]);
  });
});

describe('AgentToken', () => {
  const quiet = () => createLogger({ level: 'silent', format: 'json', redactor: new Redactor() });

  it('bootstrap writes the env token when the file is missing or expires earlier, and keeps a later one', async () => {
    const log = await quiet();
    const dir = tempDir();
    const path = join(dir, 'scion-token');
    const env = fakeJwt(600);
    const a = new AgentToken(new TokenFile(path, undefined), log);
    a.bootstrap(env);
    expect(a.current).toBe(env);
    const later = fakeJwt(3600);
    new TokenFile(path, undefined).write(later);
    const b = new AgentToken(new TokenFile(path, undefined), log);
    b.bootstrap(env);
    expect(b.current).toBe(later);
    const newer = fakeJwt(7200);
    const c = new AgentToken(new TokenFile(path, undefined), log);
    c.bootstrap(newer);
    expect(c.current).toBe(newer);
    expect((c.file.read() as { token: string }).token).toBe(newer);
  });

  it('reload adopts only a different, JWT-shaped token and ignores partial writes', async () => {
    const log = await quiet();
    const dir = tempDir();
    const path = join(dir, 'scion-token');
    const a = new AgentToken(new TokenFile(path, undefined), log);
    a.bootstrap(fakeJwt(600));
    const seen: string[] = [];
    a.on('reloaded', (why) => seen.push(why));
    expect(a.reload('poll')).toBe(false);
    writeFileSync(path, '');
    expect(a.reload('watch')).toBe(false);
    writeFileSync(path, 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIi'); // half a token
    expect(a.reload('watch')).toBe(false);
    const next = fakeJwt(900);
    writeFileSync(path, `${next}\n`);
    expect(a.reload('signal')).toBe(true);
    expect(a.current).toBe(next);
    expect(seen).toEqual(['signal']);
  });
});
