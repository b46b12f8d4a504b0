/**
 * The agent's Hub token. The token file is the source of truth: init writes the
 * bootstrap token there once, every refresh is written there, and anyone (the broker,
 * a reset-auth) may replace it. `reload()` adopts what the file holds when it differs
 * from the token in memory, which is what all three reload paths call.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import { looksLikeJwt, tokenTimes } from './jwt.js';
import type { TokenFile } from './token-file.js';

export type ReloadReason = 'watch' | 'poll' | 'signal' | '401' | 'start';

export interface AgentTokenEvents {
  /** A different token was adopted from the file. */
  reloaded: [reason: ReloadReason];
}

export class AgentToken extends EventEmitter<AgentTokenEvents> {
  private token: string | undefined;
  private lastRefusal: string | undefined;

  constructor(
    readonly file: TokenFile,
    private readonly log: Logger,
  ) {
    super();
  }

  get current(): string | undefined {
    return this.token;
  }

  /** Seconds since the epoch, when the current token says. */
  get expiresAt(): number | undefined {
    return this.token ? tokenTimes(this.token)?.exp : undefined;
  }

  /**
   * At start: the bootstrap token goes into the file when the file is missing or
   * holds a token that expires earlier; from then on only the file is used.
   */
  bootstrap(envToken: string | undefined): void {
    const fromFile = this.file.read();
    const fileToken = fromFile.ok && looksLikeJwt(fromFile.token) ? fromFile.token : undefined;
    if (!fromFile.ok && fromFile.reason !== 'missing') {
      this.log.warn({ file: this.file.path, reason: fromFile.reason, detail: fromFile.detail }, 'token file is not usable');
    }
    let chosen = fileToken;
    if (envToken !== undefined && looksLikeJwt(envToken)) {
      const envExp = tokenTimes(envToken)?.exp ?? 0;
      const fileExp = fileToken ? (tokenTimes(fileToken)?.exp ?? 0) : -1;
      if (envExp > fileExp) {
        chosen = envToken;
        try {
          this.file.write(envToken);
          this.log.info({ file: this.file.path }, 'wrote the bootstrap token to the token file');
        } catch (err) {
          // Kept in memory: the Hub link still works, and a good file is adopted when it appears.
          this.log.error({ file: this.file.path, err: (err as Error).message }, 'could not write the token file; using the bootstrap token from memory');
        }
      }
    } else if (envToken !== undefined) {
      this.log.warn('SCION_AUTH_TOKEN is not a JWT: ignored');
    }
    this.token = chosen;
    if (!chosen) this.log.warn({ file: this.file.path }, 'no agent token: Hub calls will fail until one is written to the token file');
  }

  /** Adopts the file's token when it is usable and different. Returns whether it changed. */
  reload(reason: ReloadReason): boolean {
    const r = this.file.read();
    if (!r.ok) {
      // An empty or missing file is a writer mid-way (or a broker that truncates first): wait.
      if (r.reason !== 'missing' && r.reason !== 'empty') this.refuse(`${r.reason}${r.detail ? ` (${r.detail})` : ''}`);
      return false;
    }
    if (r.token === this.token) return false;
    if (!looksLikeJwt(r.token)) {
      this.refuse('not a JWT (a partial write?)');
      return false;
    }
    this.token = r.token;
    this.lastRefusal = undefined;
    this.log.info({ reason, file: this.file.path, exp: tokenTimes(r.token)?.exp }, 'adopted a new agent token from the token file');
    this.emit('reloaded', reason);
    return true;
  }

  /** A token the Hub just issued: into the file first, so hooks and others see it too. */
  update(token: string): void {
    try {
      this.file.write(token);
    } catch (err) {
      this.log.error({ file: this.file.path, err: (err as Error).message }, 'could not write the refreshed token to the token file; keeping it in memory');
    }
    this.token = token;
  }

  private refuse(why: string): void {
    if (this.lastRefusal === why) return;
    this.lastRefusal = why;
    this.log.warn({ file: this.file.path, why }, 'token file ignored');
  }
}
