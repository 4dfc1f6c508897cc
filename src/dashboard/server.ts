import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { describeError } from '../core/errors.js';
import type { ReplayReport } from '../kafka/dlq-replay.js';
import { DashboardAuth } from './auth.js';
import { DASHBOARD_CSS, DASHBOARD_JS } from './assets.js';
import { dashboardPage, signInPage } from './page.js';
import { ResyncUsageError, type ResyncJob, type ResyncRequest } from './resync-job.js';
import type { Snapshots } from './snapshots.js';

export interface DashboardServerOptions {
  auth: DashboardAuth;
  snapshots: Snapshots;
  resync: ResyncJob;
  /** Replays dead letters of one group (or every group) through `dlq replay`'s code. */
  replay: (request: { group?: string; dryRun: boolean }) => Promise<ReplayReport>;
  /** Shown in the page header: topic prefix, store. */
  title: string;
  /** Masks secrets in error messages sent to the page. */
  scrub: (text: string) => string;
}

const require = createRequire(import.meta.url);
const UPLOT_JS = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
const UPLOT_CSS = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');

const SECURITY_HEADERS = {
  // Scripts and styles only from this server: nothing inline, nothing from elsewhere.
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

/**
 * The dashboard's HTTP server (docs/operations.md, "The dashboard"): the page, its script and
 * styles (uPlot served from the package, no CDN), `GET /api/status` (the newest status, the chart
 * history, the state of a resync), and the actions `POST /api/replay` and `POST /api/resync`.
 * Reads need a signed-in session or the bearer token; actions also need the page's CSRF token.
 */
export function createDashboardServer(options: DashboardServerOptions): FastifyInstance {
  const { auth, snapshots } = options;
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))));
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.headers(SECURITY_HEADERS);
    return payload;
  });
  let lastReplay: ReplayReport | undefined;
  let replaying = false;

  const secure = (request: FastifyRequest) => request.protocol === 'https';
  const denied = (request: FastifyRequest, reply: FastifyReply, api: boolean) => {
    if (auth.required) return api ? reply.code(401).send({ error: 'sign in first, or send Authorization: Bearer <token>' }) : reply.redirect('/login', 303);
    return reply.code(403).type('text/plain').send('this dashboard runs without authentication and answers only under a loopback address (127.0.0.1, localhost)');
  };
  /** Refuses a POST that is not signed in or not from the page; true when refused. */
  const refusedAction = (request: FastifyRequest, reply: FastifyReply): boolean => {
    if (!auth.authenticated(request)) {
      void denied(request, reply, true);
      return true;
    }
    const why = auth.forgery(request);
    if (why !== undefined) {
      void reply.code(403).send({ error: why });
      return true;
    }
    return false;
  };

  app.get('/assets/uplot.js', (_request, reply) => reply.type('text/javascript; charset=utf-8').send(UPLOT_JS));
  app.get('/assets/uplot.css', (_request, reply) => reply.type('text/css; charset=utf-8').send(UPLOT_CSS));
  app.get('/assets/dashboard.js', (_request, reply) => reply.type('text/javascript; charset=utf-8').send(DASHBOARD_JS));
  app.get('/assets/dashboard.css', (_request, reply) => reply.type('text/css; charset=utf-8').send(DASHBOARD_CSS));

  app.get('/login', (request, reply) => {
    if (!auth.required || auth.authenticated(request)) return reply.redirect('/', 303);
    return reply.type('text/html; charset=utf-8').send(signInPage());
  });
  app.post<{ Body: { token?: string } }>('/login', async (request, reply) => {
    if (!auth.required) return reply.redirect('/', 303);
    const typed = typeof request.body?.token === 'string' ? request.body.token : '';
    if (!auth.checkToken(typed)) {
      // Slows down guessing; the token is long enough that this is only a courtesy.
      await new Promise((resolve) => setTimeout(resolve, 500));
      return reply.code(401).type('text/html; charset=utf-8').send(signInPage('That is not the dashboard token.'));
    }
    return reply.header('set-cookie', auth.sessionCookie(secure(request))).redirect('/', 303);
  });
  app.post('/logout', (request, reply) => {
    if (refusedAction(request, reply)) return reply;
    return reply.header('set-cookie', DashboardAuth.clearedCookie()).send({ ok: true });
  });

  app.get('/', (request, reply) => {
    if (!auth.authenticated(request)) return denied(request, reply, false);
    return reply.type('text/html; charset=utf-8').send(dashboardPage({ title: options.title, csrf: auth.csrf, signOut: auth.required }));
  });

  app.get('/api/status', (request, reply) => {
    if (!auth.authenticated(request)) return denied(request, reply, true);
    return reply.send({
      status: snapshots.status ?? null,
      error: snapshots.error ? { ...snapshots.error, message: options.scrub(snapshots.error.message) } : null,
      history: snapshots.history,
      resync: options.resync.state ?? null,
      replay: lastReplay ?? null,
      replaying,
    });
  });

  app.post<{ Body: { group?: string; dryRun?: boolean; confirm?: boolean } }>('/api/replay', async (request, reply) => {
    if (refusedAction(request, reply)) return reply;
    const body = request.body ?? {};
    const dryRun = body.dryRun !== false;
    // Sending records back needs the confirmation step of the page: a dry run first, then confirm.
    if (!dryRun && body.confirm !== true) return reply.code(400).send({ error: 'replaying needs "confirm": true (after a dry run)' });
    if (replaying) return reply.code(409).send({ error: 'a replay is running already' });
    replaying = true;
    try {
      const report = await options.replay({ ...(body.group && body.group !== 'all' ? { group: body.group } : {}), dryRun });
      if (!dryRun) {
        lastReplay = report;
        void snapshots.refresh();
      }
      return reply.send(report);
    } catch (error) {
      return reply.code(400).send({ error: options.scrub(describeError(error)) });
    } finally {
      replaying = false;
    }
  });

  app.post<{ Body: ResyncRequest & { confirm?: boolean } }>('/api/resync', (request, reply) => {
    if (refusedAction(request, reply)) return reply;
    const body = request.body ?? {};
    if (body.confirm !== true) return reply.code(400).send({ error: 'starting a resync needs "confirm": true' });
    try {
      const { confirm: _confirm, ...resync } = body;
      return reply.code(202).send(options.resync.start(resync));
    } catch (error) {
      if (error instanceof ResyncUsageError) return reply.code(error.message.includes('running already') ? 409 : 400).send({ error: error.message });
      throw error;
    }
  });
  return app;
}
