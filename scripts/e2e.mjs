// End-to-end tests with a real container engine (test/container, testcontainers).
// Builds the test base image (Debian packages, no registry) and the sciontool image,
// then runs the tests inside the network namespace of a network-less "pod" container:
// hub-stub (a host process) and every agent container share only that namespace's
// loopback, so nothing crosses a real network and the agents' iptables rules never
// touch the host's. Without a container engine it says so and skips, unless
// SCION_E2E_REQUIRED=1 (CI), which makes that a failure.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const required = process.env.SCION_E2E_REQUIRED === '1';
const BASE = 'local/sciontool-base:test';
const IMAGE = 'local/sciontool:test';
const say = (m) => process.stdout.write(`e2e: ${m}\n`);

function engineUp() {
  return spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

if (!engineUp()) {
  const msg = 'SKIPPED the container end-to-end tests: no container engine answers (`docker info` failed)';
  if (required) {
    process.stderr.write(`e2e: ${msg}, and SCION_E2E_REQUIRED=1\n`);
    process.exit(1);
  }
  say(msg);
  process.exit(0);
}

const docker = (...args) => execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
const hasImage = (name) => spawnSync('docker', ['image', 'inspect', name], { stdio: 'ignore' }).status === 0;

if (!existsSync(join(root, 'dist', 'sciontool.mjs'))) execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
if (!hasImage(BASE) || process.env.SCION_E2E_REBUILD_BASE === '1') {
  say(`building ${BASE} from Debian packages`);
  execFileSync(join(root, 'container', 'base-from-debs.sh'), [BASE], { stdio: 'inherit' });
}
say(`building ${IMAGE} (Dockerfile.sciontool, BASE=${BASE}, PREBUILT=1)`);
execFileSync('docker', ['build', '-q', '-f', join(root, 'Dockerfile.sciontool'), '--build-arg', `BASE=${BASE}`, '--build-arg', `BUILDER=${BASE}`, '--build-arg', 'PREBUILT=1', '-t', IMAGE, root], {
  stdio: ['ignore', 'ignore', 'inherit'],
});

const pod = docker('run', '-d', '--rm', '--pull=never', '--network', 'none', '--name', `sciontool-e2e-pod-${process.pid}`, BASE, 'sleep', 'infinity');
let code = 1;
try {
  const pid = docker('inspect', '-f', '{{.State.Pid}}', pod);
  // The metadata address is routable in the pod, as it is on any real network.
  execFileSync('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', 'addr', 'add', '169.254.169.254/32', 'dev', 'lo']);
  say(`pod ${pod.slice(0, 12)} ready; running test/container inside its network namespace`);
  const r = spawnSync('nsenter', [`--net=/proc/${pid}/ns/net`, join(root, 'node_modules', '.bin', 'vitest'), 'run', '--config', join(root, 'test', 'container', 'vitest.config.ts'), ...process.argv.slice(2)], {
    stdio: 'inherit',
    cwd: root,
    env: { ...process.env, PATH: `${join(root, 'node_modules', '.bin')}:${process.env.PATH}`, E2E_POD: pod, E2E_IMAGE: IMAGE, TESTCONTAINERS_RYUK_DISABLED: 'true', TESTCONTAINERS_HOST_OVERRIDE: 'localhost' },
  });
  code = r.status ?? 1;
} finally {
  spawnSync('docker', ['rm', '-f', pod], { stdio: 'ignore' });
}
process.exit(code);
