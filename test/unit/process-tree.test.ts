import { describe, expect, it } from 'vitest';
import { descendants, parseStat } from '../../src/supervisor/process-tree.js';

describe('parseStat', () => {
  it('handles a comm with spaces and parentheses', () => {
    expect(parseStat('42 (we ird) (name)) S 7 42 42 0 -1')).toEqual({ pid: 42, ppid: 7, pgid: 42, state: 'S', comm: 'we ird) (name)' });
  });
  it('rejects garbage', () => {
    expect(parseStat('nonsense')).toBeUndefined();
  });
});

describe('descendants', () => {
  it('walks the whole tree and nothing else', () => {
    const p = (pid: number, ppid: number, state = 'S') => ({ pid, ppid, pgid: pid, state, comm: 'x' });
    const procs = [p(1, 0), p(10, 1), p(11, 10), p(12, 11, 'Z'), p(20, 2), p(21, 20)];
    expect(descendants(1, procs).map((x) => x.pid).sort()).toEqual([10, 11, 12]);
    expect(descendants(20, procs).map((x) => x.pid)).toEqual([21]);
  });
});
