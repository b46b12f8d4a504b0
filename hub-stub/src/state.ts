/**
 * Hub state: agents, signing keys, issued and revoked token ids, and the audit log.
 * In memory, or persisted under --state-dir: state.json is rewritten atomically
 * (temp file, fsync, rename) and audit.jsonl is append-only, so a restart keeps
 * every issued token valid and loses nothing that was acknowledged.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Activity, MetadataMode, Phase, TransportMode } from '../../src/wire.js';

export interface AgentRecord {
  id: string;
  name: string;
  projectId: string;
  metadataMode: MetadataMode;
  serviceAccountEmail: string | undefined;
  scopes: string[];
  tokenTtlSec: number;
  transport: { mode: TransportMode; audience: string | undefined };
  createdAt: string;
  phase: Phase;
  activity: Activity | undefined;
  message: string | undefined;
  toolName: string | undefined;
  taskSummary: string | undefined;
  exitCode: number | undefined;
  startedAt: string | undefined;
  lastSeen: string | undefined;
  /** Phase changes, oldest first (the last 50). */
  history?: { phase: Phase; at: string; exitCode?: number }[];
  counts: {
    statusUpdates: number;
    heartbeats: number;
    tokenRefreshes: number;
    gcpTokens: number;
    gcpIdentityTokens: number;
    currentTurns: number | undefined;
    currentModelCalls: number | undefined;
  };
}

export interface StoredKey {
  kid: string;
  alg: 'ES256';
  privateJwk: Record<string, unknown>;
  publicJwk: Record<string, unknown>;
  createdAt: string;
  retiredAt: string | undefined;
}

export interface AuditEvent {
  time: string;
  event: 'gcp_access_token' | 'gcp_identity_token' | 'transport_token';
  agentId: string;
  projectId: string | undefined;
  serviceAccount: string | undefined;
  success: boolean;
  reason: string | undefined;
  scopes?: string[];
  audience?: string;
}

interface Snapshot {
  version: 1;
  agents: Record<string, AgentRecord>;
  keys: StoredKey[];
  activeKid: string | undefined;
  /** jti -> exp (seconds); entries go once the token would have expired anyway. */
  revoked: Record<string, number>;
  /** agent id -> jti -> exp, so "revoke every token of an agent" is possible. */
  issued: Record<string, Record<string, number>>;
}

const AUDIT_KEEP = 10_000;

export class HubState {
  agents = new Map<string, AgentRecord>();
  keys: StoredKey[] = [];
  activeKid: string | undefined;
  revoked = new Map<string, number>();
  issued = new Map<string, Map<string, number>>();
  audit: AuditEvent[] = [];
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(private readonly dir: string | undefined) {}

  get persistent(): boolean {
    return this.dir !== undefined;
  }

  load(): void {
    if (!this.dir) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = join(this.dir, 'state.json');
    if (existsSync(file)) {
      let snap: Snapshot;
      try {
        snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
      } catch (err) {
        throw new Error(`cannot read hub state ${file}: ${(err as Error).message}`);
      }
      if (snap.version !== 1) throw new Error(`hub state ${file} has version ${String(snap.version)}; this hub-stub reads version 1`);
      this.agents = new Map(Object.entries(snap.agents));
      this.keys = snap.keys;
      this.activeKid = snap.activeKid;
      this.revoked = new Map(Object.entries(snap.revoked));
      this.issued = new Map(Object.entries(snap.issued).map(([a, m]) => [a, new Map(Object.entries(m))]));
    }
    const auditFile = join(this.dir, 'audit.jsonl');
    if (existsSync(auditFile)) {
      const lines = readFileSync(auditFile, 'utf8').split('\n').filter((l) => l !== '');
      for (const line of lines.slice(-AUDIT_KEEP)) {
        try {
          this.audit.push(JSON.parse(line) as AuditEvent);
        } catch {
          // a torn last line from a crash: skip it
        }
      }
    }
  }

  /** Writes now: for changes a client may rely on at once (keys, agents, revocations). */
  save(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (!this.dir) return;
    this.prune();
    const snap: Snapshot = {
      version: 1,
      agents: Object.fromEntries(this.agents),
      keys: this.keys,
      activeKid: this.activeKid,
      revoked: Object.fromEntries(this.revoked),
      issued: Object.fromEntries([...this.issued].map(([a, m]) => [a, Object.fromEntries(m)])),
    };
    const file = join(this.dir, 'state.json');
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeFileSync(fd, JSON.stringify(snap)); // loops until every byte is written
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, file);
    } catch (err) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
      rmSync(tmp, { force: true });
      throw err;
    }
  }

  /** Coalesces frequent changes (status, last seen, issued ids) into one write. */
  saveSoon(): void {
    if (!this.dir || this.saveTimer) return;
    this.saveTimer = setTimeout(() => this.save(), 200);
    this.saveTimer.unref();
  }

  flush(): void {
    if (this.saveTimer) this.save();
  }

  recordAudit(event: AuditEvent): void {
    this.audit.push(event);
    if (this.audit.length > AUDIT_KEEP) this.audit.splice(0, this.audit.length - AUDIT_KEEP);
    if (this.dir) appendFileSync(join(this.dir, 'audit.jsonl'), `${JSON.stringify(event)}\n`, { mode: 0o600 });
  }

  private prune(): void {
    // Tokens verify for 30 s past exp (clock tolerance): keep their ids that long too.
    const now = Math.floor(Date.now() / 1000) - 30;
    for (const [jti, exp] of this.revoked) if (exp < now) this.revoked.delete(jti);
    for (const m of this.issued.values()) for (const [jti, exp] of m) if (exp < now) m.delete(jti);
  }
}
