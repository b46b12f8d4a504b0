import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, loadInitConfig } from '../../src/config.js';

const load = (env: Record<string, string>, gracePeriod?: string) => loadInitConfig(env, { gracePeriod, stderrIsTty: false });

describe('loadInitConfig', () => {
  it('has defaults that fit inside Docker\'s 10 s stop timeout', () => {
    const c = load({});
    expect(c.gracePeriodMs).toBe(DEFAULTS.gracePeriodMs);
    expect(c.gracePeriodMs + 2 * c.stopHookTimeoutMs).toBeLessThan(10_000);
    expect(c.hooksDirs).toEqual(['/etc/scion/hooks']);
    expect(c.agentUser).toBe('scion');
    expect(c.logFormat).toBe('json');
    expect(c.logLevel).toBe('info');
    expect(c.maxDurationMs).toBeUndefined();
  });

  it('flag wins over SCION_GRACE_PERIOD', () => {
    expect(load({ SCION_GRACE_PERIOD: '2m' }).gracePeriodMs).toBe(120_000);
    expect(load({ SCION_GRACE_PERIOD: '2m' }, '1500ms').gracePeriodMs).toBe(1500);
  });

  it('reads every variable', () => {
    const c = load({
      SCION_HOOKS_DIR: '/a:/b::',
      SCION_HOOK_TIMEOUT: '5s',
      SCION_STOP_HOOK_TIMEOUT: '2s',
      SCION_AGENT_USER: 'agent',
      SCION_HOST_UID: '1001',
      SCION_HOST_GID: '1002',
      SCION_MAX_DURATION: '1h',
      SCION_LIMITS_TRIGGER_FILE: '/run/scion/limit',
      SCION_EXTRA_PATH: '/opt/x/bin',
      SCION_LOG_LEVEL: 'DEBUG',
      SCION_LOG_FORMAT: 'pretty',
      SCION_AUTH_TOKEN: 'bootstrap-token-value',
    });
    expect(c).toMatchObject({
      hooksDirs: ['/a', '/b'],
      hookTimeoutMs: 5000,
      stopHookTimeoutMs: 2000,
      agentUser: 'agent',
      hostUid: 1001,
      hostGid: 1002,
      maxDurationMs: 3_600_000,
      limitsTriggerFile: '/run/scion/limit',
      extraPath: '/opt/x/bin',
      logLevel: 'debug',
      logFormat: 'pretty',
      bootstrap: { authToken: 'bootstrap-token-value', transportToken: undefined },
    });
    expect(c.secretValues).toContain('bootstrap-token-value');
  });

  it('SCION_DEBUG turns on debug unless SCION_LOG_LEVEL says otherwise', () => {
    expect(load({ SCION_DEBUG: '1' }).logLevel).toBe('debug');
    expect(load({ SCION_DEBUG: '1', SCION_LOG_LEVEL: 'warn' }).logLevel).toBe('warn');
  });

  it('pretty by default on a terminal', () => {
    expect(loadInitConfig({}, { stderrIsTty: true }).logFormat).toBe('pretty');
  });

  it.each([
    [{ SCION_GRACE_PERIOD: '10' }, /^invalid SCION_GRACE_PERIOD "10": use a number with a unit/],
    [{ SCION_HOST_UID: '-1' }, /^invalid SCION_HOST_UID "-1": must be a numeric id/],
    [{ SCION_HOST_GID: '12a' }, /^invalid SCION_HOST_GID "12a"/],
    [{ SCION_HOOKS_DIR: 'relative/hooks' }, /^invalid SCION_HOOKS_DIR entry "relative\/hooks": hook directories must be absolute/],
    [{ SCION_LOG_FORMAT: 'xml' }, /^invalid SCION_LOG_FORMAT "xml": allowed values are json, pretty/],
    [{ SCION_LOG_LEVEL: 'verbose' }, /^invalid SCION_LOG_LEVEL "verbose": allowed values are trace, debug/],
    [{ SCION_AGENT_USER: 'bad user' }, /^invalid SCION_AGENT_USER "bad user"/],
    [{ SCION_LIMITS_TRIGGER_FILE: 'tmp/x' }, /^invalid SCION_LIMITS_TRIGGER_FILE "tmp\/x": must be an absolute path/],
    [{ SCION_MAX_DURATION: 'forever' }, /^invalid SCION_MAX_DURATION "forever"/],
  ])('refuses %j', (env, re) => {
    expect(() => load(env as Record<string, string>)).toThrow(ConfigError);
    expect(() => load(env as Record<string, string>)).toThrow(re);
  });
});
