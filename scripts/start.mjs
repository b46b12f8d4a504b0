// `npm start`: runs sciontool init around the embedded demo agent and prints a short
// summary. As root it runs init as PID 1 of a private PID namespace, as in a container.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist', 'sciontool.mjs');
const agent = join(root, 'container', 'agents', 'demo-agent.sh');
const step = (msg) => process.stdout.write(`==> ${msg}\n`);

if (!existsSync(bundle)) {
  step('building dist/sciontool.mjs');
  const b = spawn(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  const code = await new Promise((r) => b.on('close', r));
  if (code !== 0) process.exit(code ?? 1);
}

const isRoot = process.getuid?.() === 0;
const argv = ['init', '--grace-period', '3s', '--', agent];
const cmd = isRoot ? ['timeout', '-s', 'KILL', '60', 'unshare', '--pid', '--fork', '--mount-proc', '--kill-child', bundle, ...argv] : ['timeout', '-s', 'KILL', '60', bundle, ...argv];
step(isRoot ? 'running sciontool init as PID 1 of a new PID namespace' : 'not root: running sciontool init as a child subreaper');
step(`command: sciontool ${argv.join(' ')}`);
const started = Date.now();
const child = spawn(cmd[0], cmd.slice(1), {
  stdio: ['ignore', 'inherit', 'pipe'],
  env: {
    ...process.env,
    PATH: `${join(root, 'node_modules', '.bin')}:${process.env.PATH}`,
    SCION_LOG_FORMAT: 'json',
    SCION_AUTH_TOKEN: process.env.SCION_AUTH_TOKEN ?? 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJkZW1vLWFnZW50In0.ZGVtby1ub3QtYS1yZWFsLXRva2Vu',
  },
});
let stderr = '';
child.stderr.on('data', (d) => (stderr += d));
const code = await new Promise((r) => child.on('close', (c) => r(c)));
const logs = stderr
  .split('\n')
  .filter((l) => l.startsWith('{'))
  .map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      return {};
    }
  });
const exiting = logs.find((l) => l.msg === 'init exiting') ?? {};
step('summary');
const rows = [
  ['exit code', String(code)],
  ['child exit', exiting.childSignal ? `signal ${exiting.childSignal}` : String(exiting.childCode)],
  ['orphans reaped by init', String(exiting.orphansReaped ?? 'n/a')],
  ['warnings', String(logs.filter((l) => l.level === 'warn').length)],
  ['wall time', `${Date.now() - started} ms`],
  ['tokens in init logs', stderr.includes('ZGVtby1ub3QtYS1yZWFsLXRva2Vu') ? 'LEAKED' : 'none (redacted)'],
];
for (const [k, v] of rows) process.stdout.write(`    ${k.padEnd(24)} ${v}\n`);
process.exit(code ?? 1);
