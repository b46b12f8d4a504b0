/**
 * sciontool entry point. The signal module is imported first, on purpose: its
 * listeners must exist before anything else runs (see supervisor/signals.ts).
 */
import './supervisor/signals.js';
import { ConfigError, loadInitConfig } from './config.js';
import { USAGE, UsageError, parseArgs } from './cli-args.js';
import { EXIT_INIT_FAILURE, InitProcess } from './init/run.js';
import { type Logger, createLogger } from './log.js';
import { livingDescendants, signalEach } from './supervisor/process-tree.js';
import { Redactor } from './util/redact.js';
import { VERSION } from './version.js';

export const EXIT_USAGE = 2;

function die(code: number, message: string): never {
  process.stderr.write(`sciontool: ${message}\n`);
  process.exit(code);
}

/** Init's own bug must not leave the agent's processes running without a supervisor. */
function installFatalHandlers(log: Logger): void {
  const fatal = (err: unknown): void => {
    log.fatal({ err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'init failed; killing the agent');
    signalEach(
      livingDescendants(process.pid).map((p) => p.pid),
      'SIGKILL',
    );
    process.exit(EXIT_INIT_FAILURE);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
}

export async function main(args: string[]): Promise<number> {
  let cmd;
  try {
    cmd = parseArgs(args);
  } catch (err) {
    if (err instanceof UsageError) die(EXIT_USAGE, `${err.message}\n${USAGE}`);
    throw err;
  }
  if (cmd.kind === 'version') {
    process.stdout.write(`sciontool ${VERSION}\n`);
    return 0;
  }
  if (cmd.kind === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let config;
  try {
    config = loadInitConfig(process.env, { gracePeriod: cmd.kind === 'init' ? cmd.gracePeriod : undefined, stderrIsTty: process.stderr.isTTY === true });
  } catch (err) {
    if (err instanceof ConfigError) die(EXIT_USAGE, err.message);
    throw err;
  }
  const log = await createLogger({ level: config.logLevel, format: config.logFormat, redactor: new Redactor(config.secretValues) });
  installFatalHandlers(log);
  if (cmd.kind === 'metadata') {
    if (!config.metadata) die(EXIT_USAGE, 'sciontool metadata needs SCION_METADATA_MODE (block, assign or passthrough)');
    const { runMetadataCommand } = await import('./metadata/command.js');
    return runMetadataCommand(config, log.child({ component: 'metadata' }));
  }
  log.info(
    { version: VERSION, uid: process.getuid?.(), gid: process.getgid?.(), gracePeriodMs: config.gracePeriodMs },
    'sciontool init starting',
  );
  return new InitProcess(cmd.argv, config, log).run();
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => die(EXIT_INIT_FAILURE, `init failed: ${err instanceof Error ? err.message : String(err)}`),
);
