/**
 * Signal intake for PID 1. Importing this module installs listeners at once, before
 * any other code runs: a Node PID 1 without a listener silently drops SIGTERM,
 * SIGINT, SIGHUP and SIGUSR2, and SIGUSR1 would open the inspector on port 9229.
 * Signals that arrive before the supervisor is ready are queued and replayed.
 */

/** Signals init acts on or forwards. */
export const HANDLED_SIGNALS = [
  'SIGTERM',
  'SIGINT',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
  'SIGCONT',
  'SIGALRM',
  'SIGPWR',
] as const;
export type HandledSignal = (typeof HANDLED_SIGNALS)[number];

/**
 * Job-control signals are ignored by init itself (as tini and catatonit do): init
 * must never be stopped, and the child runs in its own session with no terminal.
 */
const IGNORED_SIGNALS = ['SIGTSTP', 'SIGTTIN', 'SIGTTOU'] as const;

type Handler = (signal: HandledSignal) => void;

const queue: HandledSignal[] = [];
let handler: Handler | undefined;

function onSignal(signal: NodeJS.Signals): void {
  const s = signal as HandledSignal;
  if (handler) handler(s);
  else queue.push(s);
}

for (const s of HANDLED_SIGNALS) process.on(s, onSignal);
for (const s of IGNORED_SIGNALS) process.on(s, () => {});

/** Routes every handled signal to `h`, first replaying those that arrived early. */
export function attachSignalHandler(h: Handler): void {
  handler = h;
  while (queue.length > 0) h(queue.shift() as HandledSignal);
}

/** Stops routing; later signals are queued again (and ignored unless re-attached). */
export function detachSignalHandler(): void {
  handler = undefined;
}
