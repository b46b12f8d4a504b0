/** The environment the agent (and every hook) sees: init's, minus bootstrap secrets. */
import { BOOTSTRAP_SECRET_VARS } from '../config.js';
import type { AgentIdentity } from './users.js';

export type Env = Record<string, string>;

export function buildChildEnv(base: NodeJS.ProcessEnv, identity: AgentIdentity, extraPath: string | undefined): Env {
  const env: Env = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  for (const name of BOOTSTRAP_SECRET_VARS) delete env[name];
  delete env.SCION_EXTRA_PATH;
  if (extraPath !== undefined) env.PATH = env.PATH ? `${extraPath}:${env.PATH}` : extraPath;
  if (identity.user) {
    env.HOME = identity.user.home;
    env.USER = identity.user.name;
    env.LOGNAME = identity.user.name;
  }
  return env;
}
