/** Small HTTP helpers: bounded JSON bodies, the Scion error envelope, JSON replies. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorEnvelope } from '../../src/wire.js';

export const MAX_BODY_BYTES = 64 * 1024;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status = 200): void {
  res.writeHead(status, { 'content-length': 0, 'cache-control': 'no-store' });
  res.end();
}

export function sendError(res: ServerResponse, err: HttpError): void {
  const body: ErrorEnvelope = { error: { code: err.code, message: err.message } };
  sendJson(res, err.status, body, err.headers);
}

/** Reads the whole body, refusing more than MAX_BODY_BYTES (413) without buffering it. */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > MAX_BODY_BYTES) {
      reject(new HttpError(413, 'payload_too_large', `request body of ${declared} bytes exceeds the limit of ${MAX_BODY_BYTES} bytes`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, 'payload_too_large', `request body exceeds the limit of ${MAX_BODY_BYTES} bytes`));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Parses a JSON object body; an empty body is `{}`. Unknown fields are the caller's to ignore. */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  return parseJsonObject(await readBody(req));
}

export function parseJsonObject(raw: Buffer): Record<string, unknown> {
  if (raw.length === 0 || raw.toString('utf8').trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, 'invalid_request', `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, 'invalid_request', 'request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

export function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : undefined;
}

/** Field readers that turn a wrong type into a 400 naming the field. */
export const field = {
  optString(body: Record<string, unknown>, name: string): string | undefined {
    const v = body[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw new HttpError(400, 'validation_error', `field "${name}" must be a string`);
    return v;
  },
  optBool(body: Record<string, unknown>, name: string): boolean | undefined {
    const v = body[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw new HttpError(400, 'validation_error', `field "${name}" must be true or false`);
    return v;
  },
  optInt(body: Record<string, unknown>, name: string): number | undefined {
    const v = body[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new HttpError(400, 'validation_error', `field "${name}" must be a non-negative integer`);
    return v;
  },
  optStringArray(body: Record<string, unknown>, name: string): string[] | undefined {
    const v = body[name];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '')) {
      throw new HttpError(400, 'validation_error', `field "${name}" must be an array of non-empty strings`);
    }
    return v as string[];
  },
  optEnum<T extends string>(body: Record<string, unknown>, name: string, allowed: readonly T[]): T | undefined {
    const v = field.optString(body, name);
    if (v === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(v)) {
      throw new HttpError(400, 'validation_error', `field "${name}" is ${JSON.stringify(v)}; allowed: ${allowed.join(', ')}`);
    }
    return v as T;
  },
};
