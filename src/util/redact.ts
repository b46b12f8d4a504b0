/**
 * Value-based redaction of credentials. pino's path redaction cannot know that a
 * child's argv or an error message carries a JWT, so every serialized log line is
 * scrubbed by shape (JWTs, Google OAuth tokens) and by the exact values of known
 * secrets before it reaches stderr.
 */

const SHAPES: RegExp[] = [
  /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, // JWT / JWS compact
  /ya29\.[A-Za-z0-9_.-]+/g, // Google OAuth2 access token
  /1\/\/0[A-Za-z0-9_-]{20,}/g, // Google OAuth2 refresh token
];

export const REDACTED = '[REDACTED]';

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class Redactor {
  private exact: RegExp | undefined;
  private readonly values = new Set<string>();

  constructor(values: Iterable<string> = []) {
    for (const v of values) this.add(v);
  }

  /** Remember a secret value; short values are ignored to avoid scrubbing ordinary words. */
  add(value: string): void {
    if (value.length < 8 || this.values.has(value)) return;
    this.values.add(value);
    // Match both the raw value and its JSON-escaped form, longest first.
    const forms = new Set<string>();
    for (const v of this.values) {
      forms.add(v);
      forms.add(JSON.stringify(v).slice(1, -1));
    }
    const sorted = [...forms].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.exact = new RegExp(sorted.join('|'), 'g');
  }

  redact(text: string): string {
    let out = this.exact ? text.replace(this.exact, REDACTED) : text;
    for (const re of SHAPES) out = out.replace(re, REDACTED);
    return out;
  }
}
