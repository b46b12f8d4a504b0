import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { NODE_BIN_DIR, ROOT, isRoot, tempDir } from '../helpers/init-harness.js';

/** Runs a small script in a fresh network namespace and returns its JSON output. */
function inNetns(code: string): Record<string, unknown> {
  const ns = `sciontool-nf-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const dir = tempDir();
    const src = join(dir, 'script.ts');
    const file = join(dir, 'script.mjs');
    writeFileSync(src, code);
    // esbuild maps the sources' .js specifiers to .ts, as the real build does.
    buildSync({
      entryPoints: [src],
      outfile: file,
      bundle: true,
      platform: 'node',
      format: 'esm',
      logLevel: 'error',
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
    const r = spawnSync('timeout', ['-s', 'KILL', '60', 'ip', 'netns', 'exec', ns, join(NODE_BIN_DIR, 'node'), file], { encoding: 'utf8', cwd: ROOT });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (!line.startsWith('{')) throw new Error(`netns script failed: ${r.stderr.slice(-1500)}`);
    return JSON.parse(line) as Record<string, unknown>;
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

const PRELUDE = `
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { Interception } from '${ROOT}/src/netfilter/iptables.js';
import { createLogger } from '${ROOT}/src/log.js';
import { Redactor } from '${ROOT}/src/util/redact.js';
execFileSync('ip', ['link', 'set', 'lo', 'up']);
execFileSync('ip', ['addr', 'add', '169.254.169.254/32', 'dev', 'lo']);
const log = await createLogger({ level: 'silent', format: 'json', redactor: new Redactor() });
const rules = (bin: string, table: string) => execFileSync(bin, ['-w', '-t', table, '-S', 'OUTPUT']).toString().split('\\n').filter((l) => l.includes('sciontool-metadata'));
const attempt = (port: number): Promise<string> => new Promise((resolve) => {
  const s = connect({ host: '169.254.169.254', port });
  s.setTimeout(2000, () => { s.destroy(); resolve('timeout'); });
  s.once('connect', () => { s.destroy(); resolve('connected'); });
  s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
});
`;

describe.runIf(isRoot)('iptables interception', () => {
  it('block: redirect 80, reset 443, idempotent, IPv6 too, DNS untouched, all removed at the end', () => {
    const out = inNetns(`${PRELUDE}
const a = new Interception(log);
await a.install({ mode: 'block', port: 18380, exemptRoot: false });
const b = new Interception(log);
await b.install({ mode: 'block', port: 18380, exemptRoot: false }); // a restart: nothing added twice
const nat = rules('iptables', 'nat');
const filter = rules('iptables', 'filter');
const nat6 = rules('ip6tables', 'nat');
const port443 = await attempt(443);
await b.remove();
await a.remove();
console.log(JSON.stringify({ nat, filter, nat6, port443, after: [...rules('iptables', 'nat'), ...rules('iptables', 'filter'), ...rules('ip6tables', 'nat'), ...rules('ip6tables', 'filter')] }));
`);
    expect(out.nat).toEqual(['-A OUTPUT -d 169.254.169.254/32 -p tcp -m tcp --dport 80 -m comment --comment sciontool-metadata -j REDIRECT --to-ports 18380']);
    expect(out.filter).toEqual([
      '-A OUTPUT -d 169.254.169.254/32 -p tcp -m tcp --dport 443 -m comment --comment sciontool-metadata -j REJECT --reject-with tcp-reset',
      '-A OUTPUT -d 169.254.169.254/32 -p tcp -m tcp --dport 80 -m comment --comment sciontool-metadata -j REJECT --reject-with tcp-reset',
    ]);
    expect(out.nat6).toEqual(['-A OUTPUT -d fd20:ce::254/128 -p tcp -m tcp --dport 80 -m comment --comment sciontool-metadata -j REDIRECT --to-ports 18380']);
    expect(out.port443).toBe('ECONNREFUSED'); // a reset at once, never a hang
    expect(out.after).toEqual([]);
    for (const r of [...(out.nat as string[]), ...(out.filter as string[])]) expect(r).not.toMatch(/--dport 53|udp/);
  });

  it('passthrough proxy: root (the proxy) is exempt from the redirect', () => {
    const out = inNetns(`${PRELUDE}
const a = new Interception(log);
await a.install({ mode: 'passthrough', port: 18380, exemptRoot: true });
const nat = rules('iptables', 'nat');
const filter = rules('iptables', 'filter');
await a.remove();
console.log(JSON.stringify({ nat, filter }));
`);
    expect(out.nat).toEqual([
      '-A OUTPUT -d 169.254.169.254/32 -p tcp -m tcp --dport 80 -m owner --uid-owner 0 -m comment --comment sciontool-metadata -j RETURN',
      '-A OUTPUT -d 169.254.169.254/32 -p tcp -m tcp --dport 80 -m comment --comment sciontool-metadata -j REDIRECT --to-ports 18380',
    ]);
    expect(out.filter).toEqual([]);
  });

  it('without NET_ADMIN it says so and installs nothing', () => {
    const out = inNetns(`
import { execFileSync } from 'node:child_process';
import { Interception } from '${ROOT}/src/netfilter/iptables.js';
import { createLogger } from '${ROOT}/src/log.js';
import { Redactor } from '${ROOT}/src/util/redact.js';
if (process.env.SCIONTOOL_NF_INNER) {
  const log = await createLogger({ level: 'info', format: 'json', redactor: new Redactor(), fd: 1 });
  console.log(JSON.stringify({ ok: await new Interception(log).install({ mode: 'assign', port: 18380, exemptRoot: false }) }));
} else {
  // The same code, in a child without CAP_NET_ADMIN.
  const r = execFileSync('setpriv', ['--inh-caps=-net_admin', '--bounding-set=-net_admin', process.execPath, process.argv[1]], { env: { ...process.env, SCIONTOOL_NF_INNER: '1' } }).toString();
  const rules = execFileSync('iptables', ['-w', '-t', 'nat', '-S', 'OUTPUT']).toString().split('\\n').filter((l) => l.includes('sciontool-metadata'));
  console.log(JSON.stringify({ lines: r.split('\\n'), rules }));
}
`);
    const lines = (out.lines as string[]).filter((l) => l.startsWith('{'));
    expect(lines.some((l) => l.includes('metadata interception is off'))).toBe(true);
    expect(lines[lines.length - 1]).toBe('{"ok":false}');
    expect(out.rules).toEqual([]);
  });
});

describe('hosts entry', () => {
  it('adds metadata.google.internal once, keeps what was there', async () => {
    const { ensureHostsEntry } = await import('../../src/netfilter/hosts.js');
    const { createLogger } = await import('../../src/log.js');
    const { Redactor } = await import('../../src/util/redact.js');
    const log = await createLogger({ level: 'silent', format: 'json', redactor: new Redactor() });
    const f = join(tempDir(), 'hosts');
    writeFileSync(f, '127.0.0.1 localhost');
    expect(ensureHostsEntry(log, f)).toBe(true);
    expect(ensureHostsEntry(log, f)).toBe(true);
    expect(readFileSync(f, 'utf8')).toBe('127.0.0.1 localhost\n169.254.169.254 metadata.google.internal metadata\n');
  });
});
