import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runInit, tempDir } from '../helpers/init-harness.js';

const JWT = 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhZ2VudC0xIiwic2NvcGVzIjpbXX0.ZmFrZS1zaWduYXR1cmUtdmFsdWU';
const ACCESS = 'ya29.c.b0AXv0zTOKENVALUE-abcdefghijklmnop';
const GITHUB = 'ghp_0123456789abcdefghijklmnopqrstuvwxyzAB';
const OPAQUE = 'opaque-transport-secret-42';

describe('logs never contain a token', () => {
  it('scrubs bootstrap secrets, token env values and token-shaped argv, at debug level', async () => {
    const dir = tempDir();
    const hooks = join(dir, 'hooks');
    mkdirSync(hooks);
    // A failing hook and an argv that carries tokens both end up in log lines.
    writeFileSync(join(hooks, 'pre-start'), '#!/bin/sh\nexit 3\n', { mode: 0o755 });
    const r = await runInit({
      env: {
        SCION_LOG_LEVEL: 'trace',
        SCION_HOOKS_DIR: hooks,
        SCION_AUTH_TOKEN: JWT,
        SCION_TRANSPORT_TOKEN: OPAQUE,
        GITHUB_TOKEN: GITHUB,
      },
      args: ['init', '--', 'sh', '-c', 'exit 0', JWT, ACCESS, GITHUB, OPAQUE],
    });
    expect(r.code).toBe(0);
    expect(r.logs.length).toBeGreaterThan(3);
    for (const secret of [JWT, ACCESS, GITHUB, OPAQUE]) expect(r.stderr).not.toContain(secret);
    // The argv was logged, with the tokens replaced: the check above is not vacuous.
    const started = r.logs.find((l) => l.msg === 'child started');
    expect(started?.argv).toEqual(['sh', '-c', 'exit 0', '[REDACTED]', '[REDACTED]', '[REDACTED]', '[REDACTED]']);
  });

  it('writes human-readable lines with SCION_LOG_FORMAT=pretty', async () => {
    const r = await runInit({ env: { SCION_LOG_FORMAT: 'pretty' }, args: ['init', '--', 'true', JWT] });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/INFO.*sciontool init starting/);
    expect(r.stderr).not.toContain(JWT);
    expect(r.logs).toEqual([]);
  });
});
