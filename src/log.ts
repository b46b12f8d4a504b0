/**
 * Structured logs on stderr. Writes are synchronous: PID 1 may call process.exit()
 * at any moment, and a lost last line is the one that explains why.
 */
import { writeSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import type { LogFormat, LogLevel } from './config.js';
import { Redactor } from './util/redact.js';

export type { Logger };

export interface LogOptions {
  level: LogLevel;
  format: LogFormat;
  redactor: Redactor;
  /** Defaults to stderr (2); tests may pass another descriptor. */
  fd?: number;
  name?: string;
}

function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (err) {
      // A non-blocking stderr (pipe) may be full for a moment; a closed one is final.
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      return;
    }
  }
}

/**
 * pino-pretty is loaded only when asked for: in JSON mode (every container) it would
 * cost several MB of heap in a process that idles for days.
 */
async function loadPretty(): Promise<(line: string) => string> {
  const { prettyFactory } = await import('pino-pretty');
  return prettyFactory({ colorize: false, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' });
}

export async function createLogger(opts: LogOptions): Promise<Logger> {
  const fd = opts.fd ?? 2;
  const pretty = opts.format === 'pretty' ? await loadPretty() : undefined;
  const stream = {
    write(line: string): void {
      const clean = opts.redactor.redact(line);
      writeAll(fd, pretty ? pretty(clean) : clean);
    },
  };
  return pino(
    {
      name: opts.name ?? 'sciontool',
      level: opts.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}
