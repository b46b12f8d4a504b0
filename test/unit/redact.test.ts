import { describe, expect, it } from 'vitest';
import { REDACTED, Redactor } from '../../src/util/redact.js';

describe('Redactor', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
  it('scrubs JWTs and Google tokens by shape', () => {
    const r = new Redactor();
    expect(r.redact(`token ${jwt} and ya29.a0AfH6SM-xyz_1 end`)).toBe(`token ${REDACTED} and ${REDACTED} end`);
  });
  it('scrubs known values, raw and JSON-escaped', () => {
    const r = new Redactor(['pa"ss\\word-123']);
    expect(r.redact('a pa"ss\\word-123 b')).toBe(`a ${REDACTED} b`);
    expect(r.redact(JSON.stringify({ v: 'x pa"ss\\word-123 y' }))).toBe(JSON.stringify({ v: `x ${REDACTED} y` }));
  });
  it('leaves short values alone so ordinary words survive', () => {
    const r = new Redactor(['true', 'abc']);
    expect(r.redact('true abc')).toBe('true abc');
  });
  it('prefers the longest value when one secret contains another', () => {
    const r = new Redactor(['secret-value', 'secret-value-longer']);
    expect(r.redact('secret-value-longer')).toBe(REDACTED);
  });
});
