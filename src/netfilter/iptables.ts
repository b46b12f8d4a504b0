/**
 * Interception of the metadata addresses with iptables / ip6tables (driven with execa;
 * there is no maintained binding). Rules are tagged with a comment, checked before
 * they are added (idempotent across restarts), removed at shutdown, and touch only TCP
 * 80 and 443 of the metadata addresses: DNS (53) is never matched.
 */
import { execa } from 'execa';
import type { Logger } from '../log.js';

export const RULE_TAG = 'sciontool-metadata';
export const METADATA_V4 = '169.254.169.254/32';
export const METADATA_V6 = 'fd20:ce::254/128';

export interface Rule {
  table: 'nat' | 'filter';
  chain: 'OUTPUT';
  spec: string[];
}

export interface RulePlan {
  mode: 'block' | 'assign' | 'passthrough';
  port: number;
  /** passthrough proxy: root's own traffic (the proxy) must reach the real server. */
  exemptRoot: boolean;
}

function family(dest: string, plan: RulePlan): Rule[] {
  const comment = ['-m', 'comment', '--comment', RULE_TAG];
  const match = (port: number) => ['-d', dest, '-p', 'tcp', '-m', 'tcp', '--dport', String(port)];
  const rules: Rule[] = [];
  if (plan.exemptRoot) rules.push({ table: 'nat', chain: 'OUTPUT', spec: [...match(80), '-m', 'owner', '--uid-owner', '0', ...comment, '-j', 'RETURN'] });
  rules.push({ table: 'nat', chain: 'OUTPUT', spec: [...match(80), ...comment, '-j', 'REDIRECT', '--to-ports', String(plan.port)] });
  if (plan.mode !== 'passthrough') {
    // Defence in depth: should the redirect go, nothing reaches the real server; the
    // mTLS port answers with a reset so clients fall back at once instead of hanging.
    for (const port of [443, 80]) rules.push({ table: 'filter', chain: 'OUTPUT', spec: [...match(port), ...comment, '-j', 'REJECT', '--reject-with', 'tcp-reset'] });
  }
  return rules;
}

export function planRules(plan: RulePlan): { v4: Rule[]; v6: Rule[] } {
  return { v4: family(METADATA_V4, plan), v6: family(METADATA_V6, plan) };
}

/** The first iptables flavour that can read the nat table here, or why none can. */
async function pickBinary(candidates: string[]): Promise<{ bin: string } | { error: string }> {
  let last = 'not installed';
  for (const bin of candidates) {
    const r = await execa(bin, ['-w', '5', '-t', 'nat', '-S', 'OUTPUT'], { reject: false, timeout: 10_000 });
    if (r.exitCode === 0) return { bin };
    if (r.failed && (r as { code?: string }).code === 'ENOENT') continue;
    last = (r.stderr || r.shortMessage || '').split('\n')[0] ?? last;
  }
  return { error: last };
}

export class Interception {
  private applied: { bin: string; rule: Rule }[] = [];

  constructor(private readonly log: Logger) {}

  /** Installs the rules; false (with a clear log line) when iptables or NET_ADMIN is missing. */
  async install(plan: RulePlan): Promise<boolean> {
    const { log } = this;
    const { v4, v6 } = planRules(plan);
    const four = await pickBinary(['iptables', 'iptables-nft', 'iptables-legacy']);
    if ('error' in four) {
      log.warn({ reason: four.error }, 'metadata interception is off (no usable iptables or no NET_ADMIN): only the GCE_METADATA_* variables point clients at the emulator');
      return false;
    }
    for (const rule of v4) await this.add(four.bin, rule);
    const six = await pickBinary(['ip6tables', 'ip6tables-nft', 'ip6tables-legacy']);
    if ('error' in six) log.info({ reason: six.error }, 'no usable ip6tables: IPv6 metadata address not intercepted');
    else for (const rule of v6) await this.add(six.bin, rule);
    log.info({ rules: this.applied.length, mode: plan.mode, port: plan.port }, 'metadata interception installed');
    return true;
  }

  private async add(bin: string, rule: Rule): Promise<void> {
    const base = ['-w', '5', '-t', rule.table];
    const exists = await execa(bin, [...base, '-C', rule.chain, ...rule.spec], { reject: false, timeout: 10_000 });
    if (exists.exitCode !== 0) {
      const r = await execa(bin, [...base, '-A', rule.chain, ...rule.spec], { reject: false, timeout: 10_000 });
      if (r.exitCode !== 0) {
        this.log.warn({ bin, table: rule.table, err: r.stderr.split('\n')[0] }, 'could not add a metadata interception rule');
        return;
      }
    }
    this.applied.push({ bin, rule });
  }

  /** Removes every rule it added (all copies, should there be several). */
  async remove(): Promise<void> {
    for (const { bin, rule } of this.applied.reverse()) {
      const base = ['-w', '5', '-t', rule.table];
      for (let i = 0; i < 10; i++) {
        const r = await execa(bin, [...base, '-D', rule.chain, ...rule.spec], { reject: false, timeout: 10_000 });
        if (r.exitCode !== 0) break;
      }
    }
    if (this.applied.length > 0) this.log.info({ rules: this.applied.length }, 'metadata interception removed');
    this.applied = [];
  }
}
