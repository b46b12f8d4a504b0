/**
 * A GCE metadata server, indistinguishable to Google's client libraries: the same
 * paths, redirects, listings, recursive JSON, content types, ETags and long-polls,
 * the same 403 for a missing Metadata-Flavor header or any X-Forwarded-For, and the
 * service-account surface served per mode (assign: the agent's SA, tokens from the
 * Hub; block: a VM with no service account).
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MetadataConfig } from '../config.js';
import type { Logger } from '../log.js';
import { TokenUnavailable, type TokenSource } from './identity-tokens.js';
import { type Dir, type Leaf, buildTree, isDir, leafText, listing, toJson, toText } from './tree.js';

const BASE = '/computeMetadata/v1';
const TEXT = 'application/text';
const JSON_TYPE = 'application/json';
const HTML = 'text/html; charset=UTF-8';

const COMMON_HEADERS = {
  'metadata-flavor': 'Google',
  server: 'Metadata Server for VM',
  'x-xss-protection': '0',
  'x-frame-options': 'SAMEORIGIN',
};

/** Leaves whose default rendering is JSON on the real server. */
const JSON_LEAVES = new Set(['tags']);

function googleErrorPage(code: number, title: string, detail: string): string {
  return `<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error ${code} (${title})!!1</title>\n  <p><b>${code}.</b> <ins>That's an error.</ins>\n  <p>${detail}  <ins>That's all we know.</ins>\n`;
}

function etagOf(body: string): string {
  return createHash('md5').update(body).digest('hex').slice(0, 16);
}

export interface MetadataHandlerOptions {
  cfg: MetadataConfig;
  tokens: TokenSource;
  log: Logger;
}

interface Reply {
  status: number;
  body: string;
  type: string;
  headers?: Record<string, string>;
  /** false: a credential, different on every request; there is nothing to poll for. */
  etag?: false;
}

class Fail extends Error {
  constructor(readonly reply: Reply) {
    super(reply.body);
  }
}

const notFound = (): Fail => new Fail({ status: 404, body: googleErrorPage(404, 'Not Found', 'The requested URL was not found on this server.'), type: HTML });
const badRequest = (why: string): Fail => new Fail({ status: 400, body: `${why}\n`, type: TEXT });

export class MetadataHandler {
  private tree: Dir;
  private version = 0;
  private readonly changes = new EventEmitter();

  private readonly debug: boolean;
  private readonly accountMap: Map<string, string>;

  constructor(private readonly opts: MetadataHandlerOptions) {
    this.tree = buildTree(opts.cfg);
    this.changes.setMaxListeners(0);
    this.debug = opts.log.isLevelEnabled('debug');
    const sa = opts.cfg.serviceAccount;
    this.accountMap =
      opts.cfg.mode === 'assign' && sa !== undefined
        ? new Map([
            ['default', sa],
            [sa, sa],
          ])
        : new Map();
  }

  /** Replaces a value (e.g. an attribute) and wakes every long-poll waiting on the tree. */
  update(mutate: (tree: Dir) => void): void {
    mutate(this.tree);
    this.version++;
    this.view = undefined;
    this.etags.clear();
    this.changes.emit('change');
  }

  private view: Dir | undefined;
  /** Bodies of the tree are few and fixed between updates: hash each once. */
  private readonly etags = new Map<string, string>();

  private etag(body: string): string {
    let e = this.etags.get(body);
    if (e === undefined) {
      e = etagOf(body);
      if (this.etags.size > 2000) this.etags.clear();
      this.etags.set(body, e);
    }
    return e;
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.route(req, res).catch((err: unknown) => {
      const reply = err instanceof Fail ? err.reply : { status: 500, body: googleErrorPage(500, 'Internal Server Error', 'The server encountered an error.'), type: HTML };
      if (!(err instanceof Fail)) this.opts.log.error({ err: (err as Error).message, path: req.url?.split('?')[0] }, 'metadata request failed');
      this.send(req, res, reply);
    });
  };

  private send(req: IncomingMessage, res: ServerResponse, r: Reply): void {
    if (res.headersSent || res.destroyed) return;
    const headers: Record<string, string | number> = { ...COMMON_HEADERS, 'content-type': r.type, 'content-length': Buffer.byteLength(r.body), ...r.headers };
    if (r.status === 200 && headers.etag === undefined && r.etag !== false) headers.etag = this.etag(r.body);
    if (r.status === 403) headers.connection = 'close';
    res.writeHead(r.status, headers);
    res.end(req.method === 'HEAD' ? undefined : r.body);
    if (this.debug) this.opts.log.debug({ method: req.method, path: req.url?.split('?')[0], status: r.status }, 'metadata request');
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new Fail({ status: 405, body: googleErrorPage(405, 'Method Not Allowed', `The request method ${req.method ?? ''} is inappropriate for the URL.`), type: HTML, headers: { allow: 'GET' } });
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://metadata.google.internal');
    } catch {
      throw badRequest('malformed request');
    }
    const path = url.pathname;
    // The root answers anyone: Python's and Go's probes look only at this.
    if (path === '/') return this.send(req, res, { status: 200, body: 'computeMetadata/\n', type: TEXT });
    if (req.headers['x-forwarded-for'] !== undefined) {
      throw new Fail({ status: 403, body: googleErrorPage(403, 'Forbidden', 'Your client does not have permission to get URL from this server. Proxied requests are not allowed.'), type: HTML });
    }
    if (path === '/computeMetadata' || path === '/computeMetadata/') {
      return path.endsWith('/') ? this.send(req, res, { status: 200, body: 'v1/\n', type: TEXT }) : this.redirect(req, res, url);
    }
    if (path !== BASE && !path.startsWith(`${BASE}/`)) throw notFound(); // legacy 0.1, v1beta1, anything else
    if (req.headers['metadata-flavor'] !== 'Google') {
      throw new Fail({ status: 403, body: googleErrorPage(403, 'Forbidden', 'Your client does not have permission to get URL from this server. Missing Metadata-Flavor:Google header.'), type: HTML });
    }
    if (path === BASE) return this.redirect(req, res, url);
    const rest = path.slice(BASE.length + 1);
    const trailing = rest === '' || rest.endsWith('/');
    const segs = rest === '' ? [] : rest.replace(/\/$/, '').split('/');
    if (segs.some((s) => s === '' || s === '.' || s === '..')) throw notFound();
    if (segs[0] === 'instance' && segs[1] === 'service-accounts') return this.serviceAccounts(req, res, url, segs.slice(2), trailing);
    return this.treeValue(req, res, url, segs, trailing);
  }

  private redirect(req: IncomingMessage, res: ServerResponse, url: URL): void {
    // The Host header as the client sent it: never our own port behind an iptables redirect.
    const host = req.headers.host ?? 'metadata.google.internal';
    const location = `http://${host}${url.pathname}/${url.search}`;
    this.send(req, res, { status: 301, body: `${url.pathname.split('/').pop() ?? ''}/\n`, type: 'text/html', headers: { location } });
  }

  private render(node: Leaf | Dir, url: URL, name: string): Reply {
    const alt = url.searchParams.get('alt');
    if (alt !== null && alt !== 'json' && alt !== 'text') throw badRequest(`invalid alt parameter ${JSON.stringify(alt)}: use json or text`);
    const recursive = url.searchParams.get('recursive') === 'true';
    if (isDir(node)) {
      if (recursive) {
        if (alt === 'text') return { status: 200, body: toText(node), type: TEXT };
        return { status: 200, body: JSON.stringify(toJson(node)), type: JSON_TYPE };
      }
      if (alt === 'json') return { status: 200, body: JSON.stringify(Object.keys(node).sort().map((k) => (isDir(node[k]) ? `${k}/` : k))), type: JSON_TYPE };
      return { status: 200, body: listing(node), type: TEXT };
    }
    if (alt === 'json' || (alt === null && JSON_LEAVES.has(name))) return { status: 200, body: JSON.stringify(node), type: JSON_TYPE };
    return { status: 200, body: leafText(node), type: TEXT };
  }

  private async treeValue(req: IncomingMessage, res: ServerResponse, url: URL, segs: string[], trailing: boolean): Promise<void> {
    const lookup = (): Leaf | Dir => {
      let node: Leaf | Dir = this.withAccounts();
      for (const s of segs) {
        if (!isDir(node) || !Object.hasOwn(node, s)) throw notFound();
        node = node[s] as Leaf | Dir;
      }
      return node;
    };
    const node = lookup();
    if (isDir(node) && !trailing) return this.redirect(req, res, url);
    if (!isDir(node) && trailing) throw notFound();
    const name = segs[segs.length - 1] ?? '';
    let reply = this.render(node, url, name);
    if (url.searchParams.get('wait_for_change') === 'true') reply = await this.longPoll(req, url, reply, () => this.render(lookup(), url, name));
    this.send(req, res, reply);
  }

  /** `wait_for_change`: answer at once if `last_etag` is stale, else on change or `timeout_sec`. */
  private longPoll(req: IncomingMessage, url: URL, current: Reply, again: () => Reply): Promise<Reply> {
    const etag = this.etag(current.body);
    const last = url.searchParams.get('last_etag');
    // `NONE` is what guest agents start with: answer at once, as the real server does.
    if (last !== null && last !== etag) return Promise.resolve(current);
    const t = url.searchParams.get('timeout_sec');
    if (t !== null && !/^\d+$/.test(t)) return Promise.reject(badRequest(`invalid timeout_sec ${JSON.stringify(t)}: must be a whole number of seconds`));
    const timeoutMs = t === null ? 3_600_000 : Math.min(Number(t), 86_400) * 1000;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.changes.off('change', onChange);
        req.socket.off('close', done);
        resolve(again());
      };
      const onChange = (): void => {
        if (this.etag(again().body) !== etag) done();
      };
      const timer = setTimeout(done, timeoutMs);
      this.changes.on('change', onChange);
      req.socket.once('close', done);
    });
  }

  /** The tree with the service accounts of this mode in `instance/service-accounts/`. */
  private withAccounts(): Dir {
    if (this.view) return this.view;
    const sas: Dir = {};
    for (const [name, email] of this.accounts()) sas[name] = this.accountInfo(email);
    this.view = { ...this.tree, instance: { ...(this.tree.instance as Dir), 'service-accounts': sas } };
    return this.view;
  }

  private accounts(): Map<string, string> {
    return this.accountMap;
  }

  private accountInfo(email: string): Dir {
    return { aliases: ['default'], email, scopes: [...this.opts.cfg.scopes] };
  }

  private async serviceAccounts(req: IncomingMessage, res: ServerResponse, url: URL, segs: string[], trailing: boolean): Promise<void> {
    const accounts = this.accounts();
    const [acct, leaf, ...extra] = segs;
    if (acct === undefined) {
      if (!trailing) return this.redirect(req, res, url);
      const dir: Dir = {};
      for (const [name, email] of accounts) dir[name] = this.accountInfo(email);
      return this.send(req, res, this.render(dir, url, 'service-accounts'));
    }
    const email = accounts.get(acct);
    if (email === undefined || extra.length > 0) throw notFound();
    if (leaf === undefined) {
      if (!trailing) return this.redirect(req, res, url);
      if (url.searchParams.get('recursive') === 'true') return this.send(req, res, this.render(this.accountInfo(email), url, acct));
      return this.send(req, res, { status: 200, body: 'aliases\nemail\nidentity\nscopes\ntoken\n', type: TEXT });
    }
    if (trailing) throw notFound();
    switch (leaf) {
      case 'email':
        return this.send(req, res, this.render(email, url, leaf));
      case 'aliases':
        return this.send(req, res, this.render(['default'], url, leaf));
      case 'scopes':
        return this.send(req, res, this.render([...this.opts.cfg.scopes], url, leaf));
      case 'token':
        return this.send(req, res, await this.token(url));
      case 'identity':
        return this.send(req, res, await this.identity(url));
      default:
        throw notFound();
    }
  }

  private unavailable(err: unknown): Fail {
    if (!(err instanceof TokenUnavailable)) throw err;
    this.opts.log.warn({ err: err.message }, 'token unavailable: answering 503');
    // 503, not 502: Python's google-auth retries 503 and gives up on 502.
    return new Fail({ status: 503, body: 'Service Unavailable: the token could not be obtained; retry shortly.\n', type: TEXT, headers: { 'retry-after': '5' } });
  }

  private async token(url: URL): Promise<Reply> {
    const raw = url.searchParams.getAll('scopes').join(',');
    const scopes = raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    try {
      const t = await this.opts.tokens.accessToken(scopes);
      return { status: 200, body: JSON.stringify({ access_token: t.token, expires_in: t.expiresIn, token_type: 'Bearer' }), type: JSON_TYPE, etag: false };
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  private async identity(url: URL): Promise<Reply> {
    const audience = url.searchParams.get('audience');
    if (audience === null || audience === '') throw badRequest('non-empty audience parameter required');
    const format = url.searchParams.get('format') ?? 'standard';
    if (format !== 'standard' && format !== 'full') throw badRequest(`invalid format ${JSON.stringify(format)}: use standard or full`);
    const licenses = url.searchParams.get('licenses');
    if (licenses !== null && !/^(true|false)$/i.test(licenses)) throw badRequest(`invalid licenses ${JSON.stringify(licenses)}: use TRUE or FALSE`);
    try {
      // The Hub can only obtain IAM's standard ID token; it is served for every format.
      return { status: 200, body: await this.opts.tokens.idToken(audience, format), type: TEXT, etag: false };
    } catch (err) {
      throw this.unavailable(err);
    }
  }
}
