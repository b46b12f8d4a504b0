#!/usr/bin/env node
// Benchmarks for `sciontool init` (see BENCHMARKS.md): start-up overhead, idle memory,
// and reaping 10,000 orphans as PID 1. Every baseline is measured in the same run, every
// spawned process is wrapped in `timeout -s KILL`, and the whole run takes well under a
// minute on 2 cores. Prints markdown tables; writes bench/results.json.
//
//   node scripts/build.mjs && npm run bench
//
// Knobs (environment): BENCH_RUNS (30), BENCH_WARMUP (3), BENCH_ORPHANS (10000),
// BENCH_REAP_REPS (3), BENCH_MEM_REPS (3), BENCH_IDLE_MS (2000).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'node_modules', '.bin');
const NODE = join(BIN, 'node');
const SCIONTOOL = join(ROOT, 'dist', 'sciontool.mjs');
const ADDON = join(ROOT, 'dist', 'reaper.node');
const TINI = '/usr/bin/tini';
const OUT = join(ROOT, 'bench', 'results.json');

const int = (name, dflt) => {
  const v = process.env[name];
  return v === undefined || v === '' ? dflt : Math.max(1, Number.parseInt(v, 10));
};
const RUNS = int('BENCH_RUNS', 30);
const WARMUP = int('BENCH_WARMUP', 3);
const ORPHANS = int('BENCH_ORPHANS', 10_000);
const REAP_REPS = int('BENCH_REAP_REPS', 3);
const MEM_REPS = int('BENCH_MEM_REPS', 3);
const IDLE_MS = int('BENCH_IDLE_MS', 2000);
const GOAL_RSS_KB = 60 * 1024;
const WATCHDOG_MS = 170_000;

const t0 = Date.now();
const watchdog = setTimeout(() => {
  console.error(`bench: watchdog: still running after ${WATCHDOG_MS / 1000} s, giving up`);
  process.exit(3);
}, WATCHDOG_MS);
watchdog.unref();

// A clean environment: the Node 24 from node_modules first in PATH (dist/sciontool.mjs is
// `#!/usr/bin/env node`), and no SCION_* settings leaking in from the caller.
const ENV = { ...process.env, PATH: `${BIN}:${process.env.PATH ?? '/usr/bin:/bin'}` };
for (const k of Object.keys(ENV)) if (k.startsWith('SCION_') || k.startsWith('TINI_')) delete ENV[k];
const WARN = { ...ENV, SCION_LOG_LEVEL: 'warn' };

const hard = (secs, argv) => ['timeout', '-s', 'KILL', String(secs), ...argv];
const UNSHARE = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'];

function die(msg) {
  console.error(`bench: ${msg}`);
  process.exit(2);
}

function run(argv, { env = ENV, capture = false, secs = 60 } = {}) {
  const full = hard(secs, argv);
  const start = process.hrtime.bigint();
  const r = spawnSync(full[0], full.slice(1), {
    env,
    stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'ignore',
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: (secs + 10) * 1000, // belt and braces around timeout(1)
    killSignal: 'SIGKILL',
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.error) throw new Error(`${full.join(' ')}: ${r.error.message}`);
  return { ms, status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

// ---------------------------------------------------------------- stats and tables
const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => {
  const s = sorted(xs);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const pct = (xs, p) => sorted(xs)[Math.max(0, Math.ceil((p / 100) * xs.length) - 1)];
const summary = (xs) => ({
  n: xs.length,
  median: median(xs),
  p90: pct(xs, 90),
  min: Math.min(...xs),
  max: Math.max(...xs),
  mean: xs.reduce((a, b) => a + b, 0) / xs.length,
});
const ratio = (a, b) => (b > 0 ? a / b : null);
const f1 = (x) => (x === null || x === undefined ? 'n/a' : x.toFixed(1));
const f2 = (x) => (x === null || x === undefined ? 'n/a' : x.toFixed(2));
const fx = (x) => (x === null || x === undefined ? 'n/a' : `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}x`);
const mb = (kb) => (kb === null || kb === undefined ? 'n/a' : (kb / 1024).toFixed(1));

function table(head, rows) {
  const cells = [head, ...rows].map((r) => r.map(String));
  const w = head.map((_, i) => Math.max(3, ...cells.map((r) => r[i].length)));
  const line = (r) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join(' | ')} |`;
  const sep = `|${w.map((n, i) => (i === 0 ? `${'-'.repeat(n + 1)}-` : `${'-'.repeat(n + 1)}:`)).join('|')}|`;
  return [line(cells[0]), sep, ...cells.slice(1).map(line)].join('\n');
}

// ---------------------------------------------------------------- preflight
if (!existsSync(SCIONTOOL) || !existsSync(ADDON)) die(`${SCIONTOOL} or ${ADDON} missing: run \`node scripts/build.mjs\` first`);
if (!existsSync(NODE)) die(`${NODE} missing: run \`npm install\` (devDependency node@24)`);
const envNode = run(['env', 'node', '--version'], { capture: true }).stdout.trim();
if (!/^v24\./.test(envNode)) die(`\`env node\` with ${BIN} first in PATH is ${envNode || 'missing'}, expected v24.x`);
const isRoot = process.getuid?.() === 0;
const haveUnshare = isRoot && run([...UNSHARE, 'true']).status === 0;
const haveTini = existsSync(TINI);
const tiniVersion = haveTini ? run([TINI, '--version'], { capture: true }).stdout.trim() : null;
const sanity = run([SCIONTOOL, 'init', '--', 'true'], { capture: true });
if (sanity.status !== 0) die(`\`sciontool init -- true\` exited ${sanity.status}:\n${sanity.stderr}`);

const machine = {
  nproc: availableParallelism(),
  cpu: cpus()[0]?.model ?? 'unknown',
  memTotalMB: Math.round(totalmem() / 2 ** 20),
  kernel: release(),
  node: envNode,
  tini: tiniVersion,
  pid1Tests: haveUnshare,
};
console.log(`# sciontool init benchmarks\n`);
console.log(`${machine.nproc} CPUs (${machine.cpu}), ${machine.memTotalMB} MB RAM, Linux ${machine.kernel}, Node ${envNode}, ${tiniVersion ?? 'tini: not installed'}`);
if (!haveTini) console.log('tini missing (apt-get install -y tini): tini baselines skipped');
if (!haveUnshare) console.log('not root or no unshare: PID 1 measurements skipped');

// ---------------------------------------------------------------- 1. start-up
const S = [SCIONTOOL, 'init', '--', 'true'];
const startupCases = [
  { id: 'floor', label: 'harness floor: `true`', argv: ['true'] },
  { id: 'node', label: '`node -e 0`', argv: [NODE, '-e', '0'] },
  haveTini && { id: 'tini', label: '`tini -s -- true`', argv: [TINI, '-s', '--', 'true'] },
  { id: 'sciontoolVersion', label: '`sciontool version` (bundle load only)', argv: [SCIONTOOL, 'version'] },
  { id: 'sciontool', label: '`sciontool init -- true` (warn)', argv: S, env: WARN },
  { id: 'sciontoolInfo', label: '`sciontool init -- true` (info, default)', argv: S },
  haveUnshare && { id: 'pid1Floor', label: 'PID 1 floor: `unshare … true`', argv: [...UNSHARE, 'true'] },
  haveUnshare && haveTini && { id: 'pid1Tini', label: 'PID 1: `unshare … tini -- true`', argv: [...UNSHARE, TINI, '--', 'true'] },
  haveUnshare && { id: 'pid1Sciontool', label: 'PID 1: `unshare … sciontool init -- true` (warn)', argv: [...UNSHARE, ...S], env: WARN },
].filter(Boolean);

console.error(`start-up: ${startupCases.length} commands x (${WARMUP} warm-up + ${RUNS}) runs, round-robin ...`);
for (const c of startupCases) c.samples = [];
for (let round = 0; round < WARMUP + RUNS; round++) {
  // Rotate the order each round so no command always follows the same one.
  for (let k = 0; k < startupCases.length; k++) {
    const c = startupCases[(round + k) % startupCases.length];
    const r = run(c.argv, { env: c.env ?? ENV, secs: 30 });
    if (r.status !== 0) die(`${c.label} exited ${r.status ?? r.signal}`);
    if (round >= WARMUP) c.samples.push(r.ms);
  }
}
const st = Object.fromEntries(startupCases.map((c) => [c.id, { label: c.label, argv: hard(30, c.argv).join(' '), logLevel: c.env?.SCION_LOG_LEVEL, ...summary(c.samples), samplesMs: c.samples }]));
const netMed = (id, floor = 'floor') => (st[id] ? st[id].median - st[floor].median : null);
const startupRatios = {
  sciontoolVsNode: ratio(st.sciontool.median, st.node.median),
  sciontoolVsTini: st.tini ? ratio(st.sciontool.median, st.tini.median) : null,
  sciontoolInfoVsWarn: ratio(st.sciontoolInfo.median, st.sciontool.median),
  netOfFloor: {
    sciontoolVsNode: ratio(netMed('sciontool'), netMed('node')),
    sciontoolVsTini: st.tini ? ratio(netMed('sciontool'), netMed('tini')) : null,
    pid1SciontoolVsTini: st.pid1Tini ? ratio(netMed('pid1Sciontool', 'pid1Floor'), netMed('pid1Tini', 'pid1Floor')) : null,
  },
  pid1SciontoolVsTini: st.pid1Tini ? ratio(st.pid1Sciontool.median, st.pid1Tini.median) : null,
};
const vs = (id, base) => (st[id] && st[base] ? fx(ratio(st[id].median, st[base].median)) : '');
console.log(`\n## 1. Start-up (wall ms, ${RUNS} interleaved runs after ${WARMUP} warm-ups)\n`);
console.log(
  table(
    ['command', 'median', 'p90', 'min', 'net of floor', 'vs node', 'vs tini'],
    startupCases.map((c) => {
      const s = st[c.id];
      const floor = c.id.startsWith('pid1') ? 'pid1Floor' : 'floor';
      const net = c.id === floor ? '' : f2(s.median - st[floor].median);
      const isScion = c.id.startsWith('sciontool');
      return [c.label, f2(s.median), f2(s.p90), f2(s.min), net, isScion ? vs(c.id, 'node') : '', isScion && c.id !== 'sciontoolVersion' ? vs(c.id, 'tini') : c.id === 'pid1Sciontool' ? vs(c.id, 'pid1Tini') : ''];
    }),
  ),
);
console.log(`\nratios of medians; "net of floor" subtracts the matching floor (spawn + timeout(1) [+ unshare]) median.`);
console.log(
  `net ratios: sciontool/node ${fx(startupRatios.netOfFloor.sciontoolVsNode)}, sciontool/tini ${fx(startupRatios.netOfFloor.sciontoolVsTini)}` +
    (startupRatios.netOfFloor.pid1SciontoolVsTini !== null ? `, PID 1 sciontool/tini ${fx(startupRatios.netOfFloor.pid1SciontoolVsTini)}` : ''),
);

// ---------------------------------------------------------------- 2. idle memory
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const childrenOf = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
function statusKb(pid) {
  const out = {};
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  for (const k of ['VmRSS', 'VmHWM', 'RssAnon', 'RssFile', 'RssShmem']) out[k] = Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1]);
  try {
    out.Pss = Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1]);
  } catch {}
  return out;
}
const descendants = (pid) => childrenOf(pid).flatMap((c) => [c, ...descendants(c)]);

// Starts `timeout -s KILL 60 ARGV`, follows `depth` first children down to the measured
// process, waits until it (and, when `wantsChild`, its child) is up, idles, samples, stops.
async function idleRss({ argv, depth, wantsChild, match, env = ENV }) {
  const full = hard(60, argv);
  const top = spawn(full[0], full.slice(1), { env, stdio: 'ignore' });
  const exited = new Promise((r) => top.on('exit', r));
  let pid;
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    let p = top.pid;
    for (let i = 0; i < depth && p; i++) p = childrenOf(p)[0];
    if (p && (!wantsChild || childrenOf(p).length > 0)) {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.includes(match)) {
        pid = p;
        break;
      }
    }
    await sleep(20);
  }
  let kb = null;
  if (pid) {
    await sleep(IDLE_MS);
    kb = statusKb(pid);
  }
  const all = [top.pid, ...descendants(top.pid)];
  if (pid) try { process.kill(pid, 'SIGTERM'); } catch {}
  let guard;
  const ok = await Promise.race([exited.then(() => true), new Promise((r) => (guard = setTimeout(() => r(false), 10_000)))]);
  clearTimeout(guard);
  if (!ok) for (const p of all.reverse()) try { process.kill(p, 'SIGKILL'); } catch {}
  if (!pid) throw new Error(`could not find the process for ${argv.join(' ')}`);
  return kb;
}

const memCases = [
  { id: 'sciontool', label: 'sciontool init -- sleep 30', argv: [SCIONTOOL, 'init', '--', 'sleep', '30'], depth: 1, wantsChild: true, match: 'sciontool.mjs' },
  { id: 'node', label: 'node -e "setInterval(()=>{},1000)"', argv: [NODE, '-e', 'setInterval(()=>{},1000)'], depth: 1, wantsChild: false, match: 'setInterval' },
  haveTini && { id: 'tini', label: 'tini -s -- sleep 30', argv: [TINI, '-s', '--', 'sleep', '30'], depth: 1, wantsChild: true, match: 'tini' },
  haveUnshare && { id: 'pid1Sciontool', label: 'PID 1: unshare … sciontool init -- sleep 30', argv: [...UNSHARE, SCIONTOOL, 'init', '--', 'sleep', '30'], depth: 2, wantsChild: true, match: 'sciontool.mjs' },
].filter(Boolean);
console.error(`idle memory: ${memCases.length} processes x ${MEM_REPS} reps, sampled ${IDLE_MS} ms after start-up ...`);
for (const c of memCases) c.samples = [];
for (let rep = 0; rep < MEM_REPS; rep++) {
  // The processes of one rep idle side by side; they are sampled, not timed.
  const got = await Promise.all(memCases.map((c) => idleRss(c)));
  got.forEach((kb, i) => memCases[i].samples.push(kb));
}
const mem = Object.fromEntries(
  memCases.map((c) => {
    const pick = (k) => c.samples.map((s) => s[k]).filter((v) => Number.isFinite(v));
    const m = (k) => (pick(k).length ? median(pick(k)) : null);
    return [c.id, { label: c.label, vmRssKb: m('VmRSS'), vmHwmKb: m('VmHWM'), maxVmRssKb: Math.max(...pick('VmRSS')), rssAnonKb: m('RssAnon'), rssFileKb: m('RssFile'), pssKb: m('Pss'), samples: c.samples }];
  }),
);
const worstScion = Math.max(mem.sciontool.maxVmRssKb, mem.pid1Sciontool?.maxVmRssKb ?? 0);
const memory = {
  goalKb: GOAL_RSS_KB,
  pass: worstScion < GOAL_RSS_KB,
  worstSciontoolVmRssKb: worstScion,
  sciontoolVsNode: ratio(mem.sciontool.vmRssKb, mem.node.vmRssKb),
  sciontoolMinusNodeKb: mem.sciontool.vmRssKb - mem.node.vmRssKb,
  cases: mem,
};
console.log(`\n## 2. Idle memory (MB, median of ${MEM_REPS}, sampled after ${IDLE_MS / 1000} s idle)\n`);
console.log(
  table(
    ['process', 'VmRSS', 'VmHWM', 'RssAnon', 'RssFile', 'Pss', 'vs node'],
    memCases.map((c) => {
      const m = mem[c.id];
      return [c.label, mb(m.vmRssKb), mb(m.vmHwmKb), mb(m.rssAnonKb), mb(m.rssFileKb), mb(m.pssKb), c.id === 'node' ? '' : fx(ratio(m.vmRssKb, mem.node.vmRssKb))];
    }),
  ),
);
console.log(`\ngoal: sciontool VmRSS < 60 MB -> ${memory.pass ? 'PASS' : 'FAIL'} (worst sample ${mb(worstScion)} MB; sciontool - bare node = ${mb(memory.sciontoolMinusNodeKb)} MB)`);

// ---------------------------------------------------------------- 3. reaping
let reaping = { skipped: 'needs root and unshare(1)' };
if (haveUnshare) {
  const dir = mkdtempSync(join(tmpdir(), 'sciontool-bench-'));
  const script = join(dir, 'orphans.sh');
  // $1 batches of $2: each `( ... )` subshell starts $2 background `sleep 0` and exits at
  // once, so they are re-parented to PID 1. Then poll /proc until no zombie is left and no
  // process other than this shell has PID 1 as its parent. Prints one RESULT line with
  // PID 1's own CPU (utime/stime ticks, schedstat ns) and memory, read just before exiting.
  writeFileSync(
    script,
    `#!/bin/sh
batches=$1 per=$2
read -r ns0 _ < /proc/1/schedstat || ns0=null
set -- $(sed 's/^.*) //' /proc/1/stat)
ticks0=$((\${12} + \${13}))
t0=$(date +%s%N)
for i in $(seq "$batches"); do (for j in $(seq "$per"); do sleep 0 & done); done
t1=$(date +%s%N)
me=$$
polls=0
while :; do
  left=$(cat /proc/[0-9]*/stat 2>/dev/null | awk -v me="$me" '$3 == "Z" || ($4 == 1 && $1 != me) { n++ } END { print n + 0 }')
  [ "$left" = 0 ] && break
  polls=$((polls + 1))
  [ $polls -gt 4000 ] && break
  sleep 0.005
done
t2=$(date +%s%N)
set -- $(sed 's/^.*) //' /proc/1/stat)
ut=\${12}; stt=\${13}
read -r ns _ < /proc/1/schedstat || ns=null
hwm=$(awk '/^VmHWM:/ { print $2 }' /proc/1/status)
rss=$(awk '/^VmRSS:/ { print $2 }' /proc/1/status)
echo "RESULT {\\"spawnNs\\":$((t1 - t0)),\\"drainNs\\":$((t2 - t1)),\\"totalNs\\":$((t2 - t0)),\\"left\\":$left,\\"polls\\":$polls,\\"utime\\":$ut,\\"stime\\":$stt,\\"clkTck\\":$(getconf CLK_TCK),\\"cpuNs\\":$ns,\\"ticks0\\":$ticks0,\\"cpuNs0\\":$ns0,\\"vmHwmKb\\":$hwm,\\"vmRssKb\\":$rss}"
`,
    { mode: 0o755 },
  );
  const batches = Math.min(100, ORPHANS);
  const per = Math.ceil(ORPHANS / batches);
  const orphans = batches * per;
  const reapCases = [
    { id: 'sciontool', label: 'sciontool init (PID 1)', argv: [...UNSHARE, SCIONTOOL, 'init', '--', 'sh', script, String(batches), String(per)] },
    haveTini && { id: 'tini', label: 'tini (PID 1)', argv: [...UNSHARE, TINI, '--', 'sh', script, String(batches), String(per)] },
  ].filter(Boolean);
  console.error(`reaping: ${orphans} orphans x ${REAP_REPS} reps per init, interleaved ...`);
  for (const c of reapCases) c.samples = [];
  try {
    for (let rep = 0; rep < REAP_REPS; rep++) {
      for (const c of reapCases) {
        const r = run(c.argv, { capture: true, secs: 90 });
        const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
        if (r.status !== 0 || !line) die(`${c.label} failed (exit ${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr.slice(-2000)}`);
        const res = JSON.parse(line.slice(7));
        res.wallMs = r.ms;
        res.cpuMs = ((res.utime + res.stime) * 1000) / res.clkTck;
        // CPU init spent while the workload ran, without its own start-up.
        res.workCpuMs = ((res.utime + res.stime - res.ticks0) * 1000) / res.clkTck;
        res.workCpuSchedMs = Number.isFinite(res.cpuNs) && Number.isFinite(res.cpuNs0) ? (res.cpuNs - res.cpuNs0) / 1e6 : null;
        if (c.id === 'sciontool') {
          const exit = r.stderr
            .split('\n')
            .map((l) => {
              try {
                return JSON.parse(l);
              } catch {
                return null;
              }
            })
            .find((l) => l?.msg === 'init exiting');
          res.orphansReaped = exit?.orphansReaped ?? null;
        }
        c.samples.push(res);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const agg = (c) => {
    const m = (f) => median(c.samples.map(f));
    return {
      label: c.label,
      argv: hard(90, c.argv).join(' '),
      totalMs: m((s) => s.totalNs / 1e6),
      spawnMs: m((s) => s.spawnNs / 1e6),
      drainMs: m((s) => s.drainNs / 1e6),
      wallMs: m((s) => s.wallMs),
      initCpuMs: m((s) => s.cpuMs),
      initWorkCpuMs: m((s) => s.workCpuMs),
      initWorkCpuSchedMs: c.samples.every((s) => s.workCpuSchedMs !== null) ? m((s) => s.workCpuSchedMs) : null,
      initVmHwmKb: m((s) => s.vmHwmKb),
      zombiesLeftMax: Math.max(...c.samples.map((s) => s.left)),
      orphansReapedMin: c.id === 'sciontool' ? Math.min(...c.samples.map((s) => s.orphansReaped ?? -1)) : undefined,
      samples: c.samples,
    };
  };
  const rc = Object.fromEntries(reapCases.map((c) => [c.id, agg(c)]));
  const s = rc.sciontool;
  const t = rc.tini;
  reaping = {
    orphans,
    reps: REAP_REPS,
    workload: `sh orphans.sh ${batches} ${per}`,
    orphansReapedOk: s.orphansReapedMin >= orphans,
    zombiesLeftOk: Object.values(rc).every((x) => x.zombiesLeftMax === 0),
    ratios: t
      ? {
          total: ratio(s.totalMs, t.totalMs),
          drain: ratio(s.drainMs, t.drainMs),
          initCpuTotal: ratio(s.initCpuMs, t.initCpuMs),
          initWorkCpu: ratio(s.initWorkCpuMs, t.initWorkCpuMs),
          initWorkCpuSched: s.initWorkCpuSchedMs !== null && t.initWorkCpuSchedMs !== null ? ratio(s.initWorkCpuSchedMs, t.initWorkCpuSchedMs) : null,
        }
      : null,
    cases: rc,
  };
  console.log(`\n## 3. Reaping ${orphans} orphans as PID 1 (median of ${REAP_REPS}, interleaved)\n`);
  console.log(
    table(
      ['init', 'workload ms', 'drain ms', 'wall ms', 'init CPU ms, total', 'init CPU ms, workload (ticks)', '… (schedstat)', 'init VmHWM MB', 'zombies left', 'orphansReaped'],
      Object.values(rc).map((x) => [
        x.label,
        f1(x.totalMs),
        f1(x.drainMs),
        f1(x.wallMs),
        f1(x.initCpuMs),
        f1(x.initWorkCpuMs),
        f1(x.initWorkCpuSchedMs),
        mb(x.initVmHwmKb),
        String(x.zombiesLeftMax),
        x.orphansReapedMin === undefined ? '-' : String(x.orphansReapedMin),
      ]),
    ),
  );
  if (reaping.ratios) {
    console.log(
      `\nsciontool/tini: workload wall ${fx(reaping.ratios.total)}, drain ${fx(reaping.ratios.drain)}, init CPU total ${fx(reaping.ratios.initCpuTotal)}, ` +
        `init CPU during the workload ${fx(reaping.ratios.initWorkCpu)} (ticks), ${fx(reaping.ratios.initWorkCpuSched)} (schedstat)`,
    );
  }
  console.log(`orphansReaped >= ${orphans} in every run: ${reaping.orphansReapedOk ? 'yes' : 'NO'}; zero zombies left in every run: ${reaping.zombiesLeftOk ? 'yes' : 'NO'}`);
}

// ---------------------------------------------------------------- results
const results = {
  generatedAt: new Date().toISOString(),
  durationS: (Date.now() - t0) / 1000,
  machine,
  config: { runs: RUNS, warmup: WARMUP, orphans: ORPHANS, reapReps: REAP_REPS, memReps: MEM_REPS, idleMs: IDLE_MS },
  startup: { ratios: startupRatios, cases: st },
  memory,
  reaping,
};
writeFileSync(OUT, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nwhole run: ${results.durationS.toFixed(1)} s; JSON: ${OUT}`);
const failed = !memory.pass || (reaping.orphans !== undefined && (!reaping.orphansReapedOk || !reaping.zombiesLeftOk));
if (failed) console.log('note: at least one goal or check failed (see above)');
