/**
 * Watches the credential directory (inotify through chokidar) and polls it slowly as
 * a safety net, so a token written by anyone is picked up even when SIGUSR2 cannot
 * reach a root PID 1. The directory is watched, not the file: atomic writers replace
 * the file by rename, which a watch on the old inode would miss.
 */
import { basename, dirname } from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import type { Logger } from '../log.js';

export interface CredentialWatchOptions {
  files: string[];
  pollMs: number;
  log: Logger;
  onChange: (file: string, via: 'watch' | 'poll') => void;
}

export class CredentialWatch {
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;

  constructor(private readonly opts: CredentialWatchOptions) {}

  start(useInotify: boolean): void {
    const { files, log, onChange } = this.opts;
    const dirs = [...new Set(files.map((f) => dirname(f)))];
    const names = new Map(files.map((f) => [basename(f), f]));
    if (useInotify) {
      this.watcher = watch(dirs, { depth: 0, ignoreInitial: true, atomic: false, awaitWriteFinish: false, persistent: false });
      const fire = (path: string): void => {
        const f = names.get(basename(path));
        if (f !== undefined && dirname(path) === dirname(f)) onChange(f, 'watch');
      };
      this.watcher.on('add', fire).on('change', fire);
      this.watcher.on('error', (err) => log.warn({ err: (err as Error).message }, 'credential watcher failed; polling continues'));
    }
    if (this.opts.pollMs > 0) {
      this.poll = setInterval(() => {
        for (const f of files) onChange(f, 'poll');
      }, this.opts.pollMs);
      this.poll.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    this.poll = undefined;
    await this.watcher?.close();
    this.watcher = undefined;
  }
}
