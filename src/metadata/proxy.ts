/**
 * passthrough with SCION_METADATA_PROXY=on: a filtering proxy to the real metadata
 * server. It strips X-Forwarded-For (the real server refuses proxied requests), hides
 * chosen paths (e.g. instance/attributes/kube-env), passes redirects through as they
 * are, and sets no timeout, so `wait_for_change` long-polls work.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';

export async function createProxyHandler(upstream: string, hide: string[], log: Logger): Promise<(req: IncomingMessage, res: ServerResponse) => void> {
  const { request } = await import('node:http');
  const [host, portText] = upstream.split(':');
  const port = Number(portText ?? 80);
  const hidden = hide.map((h) => `/computeMetadata/v1/${h.replace(/\/+$/, '')}`);
  return (req, res) => {
    const raw = req.url ?? '/';
    let path: string;
    try {
      // Judged on the decoded, normalised path: kube%2Denv is kube-env.
      path = decodeURIComponent(new URL(raw, 'http://x').pathname).replace(/\/+/g, '/');
    } catch {
      path = '';
    }
    const recursive = /[?&]recursive=true(&|$)/i.test(raw);
    const blocked =
      path === '' ||
      hidden.some((h) => path === h || path.startsWith(`${h}/`) || (recursive && `${h}/`.startsWith(path.endsWith('/') ? path : `${path}/`)));
    if (blocked) {
      res.writeHead(404, { 'metadata-flavor': 'Google', 'content-type': 'text/html; charset=UTF-8' });
      res.end('<!DOCTYPE html>\n<title>Error 404 (Not Found)!!1</title>\n');
      return;
    }
    const headers = { ...req.headers };
    delete headers['x-forwarded-for'];
    delete headers.forwarded;
    const up = request({ host, port, method: req.method, path: req.url, headers, timeout: 0 }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', (err) => {
      log.warn({ err: err.message, upstream }, 'metadata proxy: upstream failed');
      if (!res.headersSent) {
        res.writeHead(503, { 'metadata-flavor': 'Google', 'content-type': 'text/plain', 'retry-after': '5' });
        res.end('Service Unavailable\n');
      } else res.destroy();
    });
    // A client that goes away (a long-poll given up) must not leave the upstream request open.
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  };
}
