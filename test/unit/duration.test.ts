import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/util/duration.js';

describe('parseDuration', () => {
  it.each([
    ['1500ms', 1500],
    ['10s', 10_000],
    ['2m', 120_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['0', 0],
    [' 3s ', 3000],
  ])('%s -> %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['10x', '10', '', 's', '-1s', '1 s', '10s5', 'ms10', '1d'])('refuses %j with a line naming the value', (text) => {
    expect(() => parseDuration(text, '--grace-period')).toThrow(
      new RegExp(`^invalid --grace-period ${JSON.stringify(text).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: use a number with a unit`),
    );
  });

  it('refuses durations a timer cannot hold', () => {
    expect(() => parseDuration('1000h')).toThrow(/longer than 24 days/);
  });
});
