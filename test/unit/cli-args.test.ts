import { describe, expect, it } from 'vitest';
import { UsageError, parseArgs } from '../../src/cli-args.js';

describe('parseArgs', () => {
  it('parses the ENTRYPOINT form', () => {
    expect(parseArgs(['init', '--', 'bash', '-lc', 'echo hi'])).toEqual({ kind: 'init', gracePeriod: undefined, argv: ['bash', '-lc', 'echo hi'] });
  });
  it('accepts the command without --', () => {
    expect(parseArgs(['init', 'sleep', '1'])).toEqual({ kind: 'init', gracePeriod: undefined, argv: ['sleep', '1'] });
  });
  it('takes --grace-period in both spellings', () => {
    expect(parseArgs(['init', '--grace-period', '3s', '--', 'x'])).toMatchObject({ gracePeriod: '3s', argv: ['x'] });
    expect(parseArgs(['init', '--grace-period=3s', 'x'])).toMatchObject({ gracePeriod: '3s', argv: ['x'] });
  });
  it('passes the child\'s own options through after --', () => {
    expect(parseArgs(['init', '--', 'ls', '--grace-period', '-l'])).toMatchObject({ argv: ['ls', '--grace-period', '-l'] });
  });
  it.each([
    [['init'], /no command given/],
    [['init', '--'], /no command given/],
    [['init', '--grace-period'], /--grace-period needs a duration/],
    [['init', '-x', 'cmd'], /unknown option "-x" for init/],
    [['init', '--', ''], /empty string/],
    [[], /no subcommand given/],
    [['run'], /unknown subcommand "run"/],
    [['metadata', 'extra'], /metadata takes no arguments/],
  ])('refuses %j', (args, re) => {
    expect(() => parseArgs(args)).toThrow(UsageError);
    expect(() => parseArgs(args)).toThrow(re);
  });
  it('version and help', () => {
    expect(parseArgs(['version'])).toEqual({ kind: 'version' });
    expect(parseArgs(['--help'])).toEqual({ kind: 'help' });
    expect(parseArgs(['init', '--help'])).toEqual({ kind: 'help' });
  });
});
