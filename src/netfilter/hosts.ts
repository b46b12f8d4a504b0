/**
 * `metadata.google.internal` must resolve to the metadata address inside the
 * container: gcloud and Java use only the name, and Go races a DNS lookup against its
 * HTTP probe. /etc/hosts is often a bind mount (Docker), so the line is appended in
 * one write rather than the file replaced.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import type { Logger } from '../log.js';

export const HOSTS_LINE = '169.254.169.254 metadata.google.internal metadata';

export function ensureHostsEntry(log: Logger, path = '/etc/hosts'): boolean {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      log.warn({ path, err: (err as Error).message }, 'cannot read the hosts file: metadata.google.internal not added');
      return false;
    }
  }
  const has = text.split('\n').some((l) => {
    const f = l.replace(/#.*/, '').trim().split(/\s+/);
    return f.length > 1 && f.slice(1).includes('metadata.google.internal');
  });
  if (has) return true;
  try {
    appendFileSync(path, `${text === '' || text.endsWith('\n') ? '' : '\n'}${HOSTS_LINE}\n`);
    log.info({ path }, 'added metadata.google.internal to the hosts file');
    return true;
  } catch (err) {
    log.warn({ path, err: (err as Error).message }, 'cannot write the hosts file: metadata.google.internal not added');
    return false;
  }
}
