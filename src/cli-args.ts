/** Command-line parsing: pure, so every usage error is testable as one line. */

export class UsageError extends Error {}

export const USAGE = `usage: sciontool init [--grace-period DUR] [--] CMD [ARGS...]
       sciontool metadata       (the GCE metadata emulator alone, configured by SCION_METADATA_*)
       sciontool version
       sciontool help`;

export type Command =
  | { kind: 'init'; gracePeriod: string | undefined; argv: string[] }
  | { kind: 'metadata' }
  | { kind: 'version' }
  | { kind: 'help' };

export function parseArgs(args: string[]): Command {
  const [sub, ...rest] = args;
  switch (sub) {
    case undefined:
      throw new UsageError('no subcommand given; allowed: init, metadata, version, help');
    case 'version':
    case '--version':
    case '-v':
      return { kind: 'version' };
    case 'help':
    case '--help':
    case '-h':
      return { kind: 'help' };
    case 'init':
      return parseInit(rest);
    case 'metadata':
      if (rest.length > 0) throw new UsageError(`metadata takes no arguments (got ${JSON.stringify(rest[0])}); configure it with SCION_METADATA_* variables`);
      return { kind: 'metadata' };
    default:
      throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}; allowed: init, metadata, version, help`);
  }
}

function parseInit(args: string[]): Command {
  let gracePeriod: string | undefined;
  let i = 0;
  while (i < args.length) {
    const a = args[i] as string;
    if (a === '--') {
      i++;
      break;
    }
    if (a === '--grace-period') {
      const v = args[i + 1];
      if (v === undefined) throw new UsageError('--grace-period needs a duration, e.g. --grace-period 10s');
      gracePeriod = v;
      i += 2;
      continue;
    }
    if (a.startsWith('--grace-period=')) {
      gracePeriod = a.slice('--grace-period='.length);
      i++;
      continue;
    }
    if (a === '--help' || a === '-h') return { kind: 'help' };
    if (a.startsWith('-')) throw new UsageError(`unknown option ${JSON.stringify(a)} for init; allowed: --grace-period DUR, then -- CMD`);
    break;
  }
  const argv = args.slice(i);
  if (argv.length === 0) throw new UsageError('no command given after --; e.g. sciontool init -- bash');
  if (argv[0] === '') throw new UsageError('the command is an empty string');
  return { kind: 'init', gracePeriod, argv };
}
