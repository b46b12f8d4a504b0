/**
 * The metadata tree a VM would have: instance and project keys with realistic values,
 * named as the real server names them (kebab-case) and rendered camelCase in
 * `?recursive=true` JSON. Service accounts are not here: they are served by mode.
 */
import type { MetadataConfig } from '../config.js';

export type Leaf = string | number | boolean | string[];
export interface Dir {
  [name: string]: Leaf | Dir;
}

export function isDir(v: Leaf | Dir | undefined): v is Dir {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** 42:01:... is the prefix real GCE NICs carry. */
function mac(seed: string): string {
  const hex = seed.padStart(8, '0').slice(-8);
  return `42:01:${hex.match(/../g)?.join(':') ?? '00:00:00:00'}`;
}

export function buildTree(cfg: MetadataConfig): Dir {
  const region = cfg.zone.replace(/-[a-z]$/, '');
  const num = cfg.projectNumber;
  return {
    instance: {
      attributes: { ...cfg.instanceAttributes },
      'cpu-platform': 'Intel Broadwell',
      description: 'Scion agent',
      hostname: `${cfg.instanceName}.${cfg.zone}.c.${cfg.projectId}.internal`,
      id: Number(cfg.instanceId) <= Number.MAX_SAFE_INTEGER ? Number(cfg.instanceId) : cfg.instanceId,
      image: 'projects/debian-cloud/global/images/debian-12-bookworm-v20260101',
      licenses: { '0': { id: '2147286739765738111' } },
      'machine-type': `projects/${num}/machineTypes/e2-standard-4`,
      'maintenance-event': 'NONE',
      name: cfg.instanceName,
      'network-interfaces': {
        '0': {
          'access-configs': { '0': { 'external-ip': '', type: 'ONE_TO_ONE_NAT' } },
          gateway: '10.128.0.1',
          ip: '10.128.0.2',
          mac: mac(Number(cfg.instanceId.slice(-9)).toString(16)),
          mtu: 1460,
          network: `projects/${num}/networks/default`,
          subnetmask: '255.255.240.0',
        },
      },
      preempted: 'FALSE',
      scheduling: { 'automatic-restart': 'TRUE', 'on-host-maintenance': 'MIGRATE', preemptible: 'FALSE' },
      tags: [],
      zone: `projects/${num}/zones/${cfg.zone}`,
    },
    project: {
      attributes: { 'google-compute-default-region': region, 'google-compute-default-zone': cfg.zone, ...cfg.projectAttributes },
      'numeric-project-id': Number(num) <= Number.MAX_SAFE_INTEGER ? Number(num) : num,
      'project-id': cfg.projectId,
    },
    universe: { 'universe-domain': 'googleapis.com' },
  };
}

export function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** `?recursive=true` JSON: camelCase keys, numbers stay numbers. */
export function toJson(v: Leaf | Dir): unknown {
  if (!isDir(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, child] of Object.entries(v)) out[camel(k)] = toJson(child);
  return out;
}

/** A directory listing: one entry a line, directories with a trailing slash. */
export function listing(d: Dir): string {
  return Object.keys(d)
    .sort()
    .map((k) => (isDir(d[k]) ? `${k}/` : k))
    .map((l) => `${l}\n`)
    .join('');
}

/** `alt=text` on a directory: `path value` lines. */
export function toText(v: Leaf | Dir, prefix = ''): string {
  if (!isDir(v)) return `${prefix}${prefix ? ' ' : ''}${leafText(v)}\n`;
  return Object.keys(v)
    .sort()
    .map((k) => toText(v[k] as Leaf | Dir, prefix ? `${prefix}/${k}` : k))
    .join('');
}

export function leafText(v: Leaf): string {
  if (Array.isArray(v)) return v.join('\n');
  return String(v);
}
