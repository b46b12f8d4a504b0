/**
 * Structured logs on stderr. Writes are synchronous: PID 1 may call process.exit()
 * at any moment, and a lost last line is the one that explains why.
 */
import { writeSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';
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

export function createLogger(opts: LogOptions): Logger {
  const fd = opts.fd ?? 2;
  const pretty = opts.format === 'pretty' ? prettyFactory({ colorize: false, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' }) : undefined;
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
