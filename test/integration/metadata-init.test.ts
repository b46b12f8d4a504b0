import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runInit, tempDir } from '../helpers/init-harness.js';

describe('init with a metadata mode (variables only)', () => {
  it('serves the emulator to the child through GCE_METADATA_*, and clears gcloud\'s stale GCE verdict without following symlinks', async () => {
    const home = tempDir();
    mkdirSync(join(home, '.config', 'gcloud'), { recursive: true });
    writeFileSync(join(home, '.config', 'gcloud', 'gce'), 'False');
    // A second home whose .config is a symlink elsewhere: that target must survive.
    const home2 = tempDir();
    const elsewhere = tempDir();
    mkdirSync(join(elsewhere, 'gcloud'));
    writeFileSync(join(elsewhere, 'gcloud', 'gce'), 'keep');
    symlinkSync(elsewhere, join(home2, '.config'));
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const env = { SCION_METADATA_MODE: 'block', SCION_METADATA_INTERCEPT: 'off', SCION_METADATA_PORT: port, SCION_METADATA_PROJECT_ID: 'proj-under-test' };
    const script = 'echo "host=$GCE_METADATA_HOST"; node -e "fetch(\'http://\'+process.env.GCE_METADATA_HOST+\'/computeMetadata/v1/project/project-id\',{headers:{\'Metadata-Flavor\':\'Google\'}}).then(r=>r.text()).then(t=>console.log(\'project=\'+t))"';
    const r = await runInit({ env: { ...env, HOME: home }, args: ['init', '--', 'sh', '-c', script] });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`host=127.0.0.1:${port}`);
    expect(r.stdout).toContain('project=proj-under-test');
    expect(existsSync(join(home, '.config', 'gcloud', 'gce'))).toBe(false);
    const r2 = await runInit({ env: { ...env, HOME: home2 }, args: ['init', '--', 'true'] });
    expect(r2.code).toBe(0);
    expect(existsSync(join(elsewhere, 'gcloud', 'gce'))).toBe(true);
  });
});
