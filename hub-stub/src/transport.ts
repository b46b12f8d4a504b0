/** Transport (outer layer) tokens: Google ID tokens minted by impersonating the platform SA. */
import { decodeJwt } from 'jose';
import type { HubContext } from './context.js';
import type { TransportBootstrap } from './dispatch-env.js';
import type { AgentRecord } from './state.js';

/** The audience a transport token is minted for: IAP's client id, or the hub URL for Cloud Run. */
export function transportAudience(ctx: HubContext, agent: AgentRecord): string {
  return agent.transport.audience ?? ctx.opts.publicUrl;
}

/** Mints a transport token when the agent has transport auth; audits the outcome. */
export async function mintTransport(ctx: HubContext, agent: AgentRecord): Promise<TransportBootstrap | undefined> {
  if (agent.transport.mode === 'none') return undefined;
  const audience = transportAudience(ctx, agent);
  const sa = ctx.opts.transportServiceAccount;
  if (!ctx.iam) throw new Error('no IAM backend is configured (--iam none)');
  try {
    const token = await ctx.iam.generateIdToken(sa, audience);
    const exp = decodeJwt(token).exp;
    const expiresAt = new Date((exp ?? Math.floor(Date.now() / 1000) + 3600) * 1000);
    ctx.state.recordAudit({ time: new Date().toISOString(), event: 'transport_token', agentId: agent.id, projectId: agent.projectId, serviceAccount: sa, success: true, reason: undefined, audience });
    return { token, audience, expiresAt };
  } catch (err) {
    ctx.state.recordAudit({
      time: new Date().toISOString(),
      event: 'transport_token',
      agentId: agent.id,
      projectId: agent.projectId,
      serviceAccount: sa,
      success: false,
      reason: (err as Error).message,
      audience,
    });
    throw err;
  }
}
