/**
 * `sciontool init`: start-up and shutdown order around the supervised child.
 *
 *   pre-start hooks -> child (own session) -> post-start hooks (alongside)
 *   wait for: child exit | SIGTERM/SIGINT | limit (duration, SIGUSR1, trigger file)
 *   stop: pre-stop hooks (bounded) -> signal to the child's group -> grace -> SIGKILL
 *   child gone: TERM leftovers -> grace -> KILL -> session-end hooks -> exit code
 */
import { join } from 'node:path';
import { BOOTSTRAP_SECRET_VARS, type InitConfig } from '../config.js';
import type { Logger } from '../log.js';
import { buildChildEnv } from '../supervisor/child-env.js';
import { type ChildExit, signalNumber, spawnChild } from '../supervisor/child.js';
import { livingDescendants, signalEach, signalGroup } from '../supervisor/process-tree.js';
import { Reaper } from '../supervisor/reaper.js';
import { type HandledSignal, attachSignalHandler, detachSignalHandler } from '../supervisor/signals.js';
import { type AgentIdentity, resolveAgentIdentity } from '../supervisor/users.js';
import { HookRunner } from './hooks.js';
import type { HubLink } from './hub-link.js';
import { lstatSync, unlinkSync } from 'node:fs';
import type { MetadataService } from '../metadata/service.js';
import type { Interception } from '../netfilter/iptables.js';
import { type LimitReason, LimitWatch } from './limits.js';

/** Exit code when a limit (duration, SIGUSR1, trigger file) ended the agent. */
export const EXIT_LIMIT_EXCEEDED = 10;
/** Exit code for init's own failures. */
export const EXIT_INIT_FAILURE = 1;

/** Signals passed on to the child's process group as they are. */
const FORWARDED: ReadonlySet<HandledSignal> = new Set(['SIGHUP', 'SIGQUIT', 'SIGWINCH', 'SIGCONT', 'SIGALRM', 'SIGPWR']);

const POLL_MS = 20;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface StopRequest {
  signal: NodeJS.Signals;
  limit: LimitReason | undefined;
}

/**
 * Removes a file below the agent's home without following a symlink the agent may
 * have planted on the way: init is root, the home is the agent's.
 */
function removeInAgentHome(home: string, parts: string[]): void {
  let path = home;
  for (const [i, part] of parts.entries()) {
    path = join(path, part);
    let st;
    try {
      st = lstatSync(path);
    } catch {
      return; // not there: nothing to remove
    }
    const last = i === parts.length - 1;
    if (st.isSymbolicLink() || (!last && !st.isDirectory()) || (last && !st.isFile())) return;
  }
  try {
    unlinkSync(path);
  } catch {
    // raced away
  }
}

export class InitProcess {
  private readonly reaper: Reaper;
  private identity!: AgentIdentity;
  private hooks!: HookRunner;
  private childPid: number | undefined;
  private childExited = false;
  private stop: StopRequest | undefined;
  private killDeadline: number | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private limits: LimitWatch | undefined;
  private hub: HubLink | undefined;
  private metadata: MetadataService | undefined;
  private interception: Interception | undefined;

  constructor(
    private readonly argv: string[],
    private readonly config: InitConfig,
    private readonly log: Logger,
  ) {
    this.reaper = new Reaper({ log });
  }

  async run(): Promise<number> {
    const { config, log } = this;
    attachSignalHandler((s) => this.onSignal(s));
    this.reaper.start();

    this.identity = resolveAgentIdentity(config, log);
    const env = buildChildEnv(process.env, this.identity, config.extraPath);
    // Nothing init starts later (hooks, helpers) may inherit a bootstrap secret.
    for (const name of BOOTSTRAP_SECRET_VARS) delete process.env[name];

    // Before anything awaits: a stop signal may arrive at any moment and needs the runner.
    const hookDirs = [...new Set([...config.hooksDirs, join(this.identity.home, '.scion', 'hooks')])];
    this.hooks = new HookRunner({ dirs: hookDirs, identity: this.identity, env, log });

    if (config.hub) {
      // Loaded only when used: in local mode none of it costs start-up time or memory.
      const { HubLink } = await import('./hub-link.js');
      const link = new HubLink(config.hub, this.identity, log);
      try {
        Object.assign(env, await link.start(config.bootstrap));
        this.hub = link;
      } catch (err) {
        // The agent still runs; it just cannot talk to its Hub.
        log.error({ err: (err as Error).message }, 'could not set up the Hub link; continuing without it');
      }
    } else {
      log.info({ reason: config.localReason }, 'local mode: no Hub');
    }

    if (config.metadata) await this.startMetadata(env);

    this.limits = new LimitWatch({
      maxDurationMs: config.maxDurationMs,
      triggerFile: config.limitsTriggerFile ?? join(this.identity.home, '.scion', 'limits-exceeded'),
      log,
      onLimit: (reason) => this.onLimit(reason),
    });
    this.limits.start();

    await this.hooks.run('pre-start', config.hookTimeoutMs);

    let exit: ChildExit;
    if (this.stop) {
      log.info({ signal: this.stop.signal }, 'stop requested before the child started: not starting it');
      exit = { exitCode: 128 + signalNumber(this.stop.signal), code: null, signal: this.stop.signal };
    } else {
      exit = await this.superviseChild(env);
    }

    this.limits.stop();
    await this.cleanupLeftovers();
    // The grace deadline was for the agent's processes; session-end hooks get their own bound.
    if (this.killTimer) clearTimeout(this.killTimer);
    this.killTimer = undefined;
    this.killDeadline = undefined;
    const code = this.stop?.limit ? EXIT_LIMIT_EXCEEDED : exit.exitCode;
    await Promise.all([
      this.hooks.run('session-end', config.hookTimeoutMs, this.stop ? config.stopHookTimeoutMs : undefined),
      this.hub?.finished({ exitCode: code, requested: this.stop !== undefined, limit: this.stop?.limit }),
    ]);
    await this.hub?.close();
    await this.interception?.remove();
    await this.metadata?.close();
    await this.killStragglers();
    if (this.killTimer) clearTimeout(this.killTimer);
    this.reaper.sweep();
    this.reaper.stop();
    detachSignalHandler();

    log.info(
      { exitCode: code, childCode: exit.code, childSignal: exit.signal, limit: this.stop?.limit, orphansReaped: this.reaper.reapedCount },
      'init exiting',
    );
    return code;
  }

  /** The emulator (or proxy) is up, and intercepting, before the child starts. */
  private async startMetadata(env: Record<string, string>): Promise<void> {
    const { log } = this;
    const cfg = this.config.metadata;
    if (!cfg) return;
    const mlog = log.child({ component: 'metadata' });
    const { MetadataService } = await import('../metadata/service.js');
    this.metadata = new MetadataService(cfg, this.hub?.client, mlog);
    try {
      await this.metadata.start();
    } catch (err) {
      // Interception still goes in below: a redirect to a closed port fails closed.
      log.error({ err: (err as Error).message }, 'metadata server did not start: the agent gets no metadata');
    }
    Object.assign(env, this.metadata.childEnv());
    // gcloud caches "not on GCE" for 10 minutes; a verdict from before the emulator must go.
    removeInAgentHome(this.identity.home, ['.config', 'gcloud', 'gce']);
    const isRoot = (process.getuid?.() ?? 0) === 0;
    if (!this.metadata.listens) return;
    if (cfg.intercept === 'off') {
      log.info('metadata interception off (SCION_METADATA_INTERCEPT=off): the GCE_METADATA_* variables only');
    } else if (!isRoot) {
      log.info('not root: metadata interception off; the GCE_METADATA_* variables only');
    } else {
      const [{ Interception }, { ensureHostsEntry }] = await Promise.all([import('../netfilter/iptables.js'), import('../netfilter/hosts.js')]);
      this.interception = new Interception(mlog);
      // The name must lead to the intercepted address; without interception it would lead nowhere.
      if (await this.interception.install({ mode: cfg.mode, port: cfg.port, exemptRoot: cfg.mode === 'passthrough' })) ensureHostsEntry(mlog);
    }
  }

  private async superviseChild(env: Record<string, string>): Promise<ChildExit> {
    const { log } = this;
    const drop = this.identity.mode === 'drop';
    const child = spawnChild({
      argv: this.argv,
      env,
      ...(drop ? { uid: this.identity.uid, gid: this.identity.gid } : {}),
    });
    this.childPid = child.pid;
    if (child.pid !== undefined) {
      log.info(
        { childPid: child.pid, argv: this.argv, uid: drop ? this.identity.uid : process.getuid?.(), gid: drop ? this.identity.gid : process.getgid?.() },
        'child started',
      );
      this.hub?.running(new Date());
      void this.hooks.run('post-start', this.config.hookTimeoutMs);
    }
    const exit = await child.exited;
    this.childExited = true;
    if (exit.spawnError) {
      log.error({ argv: this.argv, err: exit.spawnError.message, code: exit.spawnError.code, exitCode: exit.exitCode }, 'child could not be started');
    } else {
      log.info({ childPid: child.pid, code: exit.code, signal: exit.signal, exitCode: exit.exitCode }, 'child exited');
    }
    return exit;
  }

  private onSignal(signal: HandledSignal): void {
    const { log } = this;
    switch (signal) {
      case 'SIGTERM':
      case 'SIGINT':
        if (this.stop) {
          log.info({ signal }, 'repeated stop signal: forwarding it again');
          this.forward(signal);
        } else {
          void this.requestStop({ signal, limit: undefined });
        }
        return;
      case 'SIGUSR1':
        this.onLimit('sigusr1');
        return;
      case 'SIGUSR2':
        if (this.hub) this.hub.reloadFromSignal();
        else log.info({ signal }, 'SIGUSR2 received: no Hub configured, nothing to reload');
        return;
      default:
        if (FORWARDED.has(signal)) {
          log.debug({ signal }, 'forwarding signal to the child\'s process group');
          this.forward(signal);
        }
    }
  }

  private onLimit(reason: LimitReason): void {
    if (this.childExited) {
      // Too late to be the reason the agent ended: keep the child's own exit code.
      this.log.info({ reason }, 'limit signal after the child exited: ignored');
      return;
    }
    this.log.warn({ reason }, 'LIMITS_EXCEEDED: stopping the agent');
    this.limits?.stop();
    if (this.stop) {
      // Already stopping: the exit code still reports the limit.
      this.stop.limit ??= reason;
      return;
    }
    void this.requestStop({ signal: 'SIGTERM', limit: reason });
  }

  private forward(signal: NodeJS.Signals): void {
    if (this.childPid !== undefined && !this.childExited) signalGroup(this.childPid, signal);
  }

  private async requestStop(req: StopRequest): Promise<void> {
    const { log, config } = this;
    this.stop = req;
    this.hub?.stopping();
    if (this.childPid === undefined) {
      // Still in pre-start: do not let a slow hook hold the stop up.
      this.hooks.cancel('pre-start');
      return;
    }
    if (this.childExited) return; // leftovers are handled on the exit path
    log.info({ signal: req.signal, limit: req.limit, gracePeriodMs: config.gracePeriodMs }, 'stopping: running pre-stop hooks');
    await this.hooks.run('pre-stop', Math.min(config.hookTimeoutMs, config.stopHookTimeoutMs), config.stopHookTimeoutMs);
    if (this.childExited) return;
    log.info({ signal: req.signal, pgid: this.childPid }, 'signalling the child\'s process group');
    this.forward(req.signal);
    this.armKill(Date.now() + config.gracePeriodMs);
  }

  /** SIGKILL to the child's group and every descendant when the deadline passes. */
  private armKill(deadline: number): void {
    if (this.killDeadline !== undefined && this.killDeadline <= deadline) return;
    this.killDeadline = deadline;
    if (this.killTimer) clearTimeout(this.killTimer);
    this.killTimer = setTimeout(() => this.killAll('grace period expired'), Math.max(0, deadline - Date.now()));
  }

  private killAll(why: string): void {
    const left = livingDescendants(process.pid);
    const groupAlive = this.childPid !== undefined && signalGroup(this.childPid, 'SIGKILL');
    if (left.length > 0 || groupAlive) {
      this.log.warn({ processes: left.map((p) => ({ pid: p.pid, comm: p.comm })) }, `${why}: sending SIGKILL`);
    }
    signalEach(
      left.map((p) => p.pid),
      'SIGKILL',
    );
  }

  /** After the main child exits: TERM what it left behind, KILL it after the grace period. */
  private async cleanupLeftovers(): Promise<void> {
    let left = livingDescendants(process.pid);
    if (left.length === 0) return;
    if (this.childPid !== undefined) signalGroup(this.childPid, 'SIGTERM');
    // Members of the group already got it: a second TERM would run their traps twice.
    signalEach(
      left.filter((p) => p.pgid !== this.childPid).map((p) => p.pid),
      'SIGTERM',
    );
    this.log.info({ processes: left.length }, 'child exited: sent SIGTERM to the processes it left behind');
    this.armKill(Date.now() + this.config.gracePeriodMs);
    while (left.length > 0 && Date.now() < (this.killDeadline as number)) {
      await sleep(POLL_MS);
      this.reaper.sweep();
      left = livingDescendants(process.pid);
    }
    await this.killStragglers();
  }

  /** SIGKILL anything still alive (e.g. left by session-end hooks) and wait for it to die. */
  private async killStragglers(): Promise<void> {
    if (livingDescendants(process.pid).length === 0) return;
    this.killAll('processes still running at shutdown');
    const until = Date.now() + 2000;
    while (livingDescendants(process.pid).length > 0 && Date.now() < until) {
      await sleep(POLL_MS);
      this.reaper.sweep();
    }
    // Give SIGCHLD-driven reaping of the killed processes a moment.
    await sleep(POLL_MS);
    this.reaper.sweep();
  }
}
