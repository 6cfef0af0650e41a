import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import type { Logger } from '../overlay/log.js';
import { cryptoReady } from '../overlay/crypto.js';
import { API_PREFIX } from '../groups/api-protocol.js';
import { registerApiRoutes } from './api/api-routes.js';
import { CaKeys } from './ca-keys.js';
import { loadOrCreateSecret, openDataDir } from './data-dir.js';
import { GroupService } from './group-service.js';
import { HttpError } from './http-error.js';
import { CrlWatch } from './crl-watch.js';
import { type JoinNotifier, MembershipService } from './membership-service.js';
import { createAdminNotifier } from './notifier.js';
import { DEFAULT_RATE_LIMITS, type RateLimits } from './rate-limits.js';
import { openDatabase } from './storage/database.js';
import { GroupsStore } from './storage/groups-store.js';
import { MembersStore } from './storage/members-store.js';
import { ensureTlsCertificate } from './tls-cert.js';
import { registerAdminRoutes } from './web/admin-routes.js';
import { registerAuthRoutes } from './web/auth-routes.js';
import { registerJoinRoutes } from './web/join-routes.js';
import { page } from './web/layout.js';
import { errorBody } from './web/public-pages.js';
import { WebContext } from './web/web-context.js';
import { capitalise } from './web/auth-routes.js';
import { createSmtpMailer } from './mailer.js';
import { silentLogger } from '../overlay/log.js';

export interface GroupServerOptions {
  dataDir: string;
  /** 0 picks a free port (tests). */
  port: number;
  host: string;
  /** Plain HTTP, for tests and for running behind a TLS-terminating proxy. */
  http: boolean;
  smtpUrl: string | null;
  smtpFrom?: string;
  /** The address people and apps reach the server at; defaults to the listening address. */
  publicUrl: string | null;
  /** Anyone may create groups. Otherwise only the first group is open to all, later ones need an admin login. */
  openGroupCreation?: boolean;
  rateLimits?: Partial<RateLimits>;
  /**
   * Addresses (or CIDR ranges) of reverse proxies in front of the server: their X-Forwarded-For
   * names the client, so rate limits count per client rather than per proxy. Without it the header
   * is ignored, and a client cannot dodge the limits by sending one.
   */
  trustProxy?: string[];
  /** The longest a CRL long poll is held (default and at most 25 s; tests shorten it). */
  crlWaitCapSeconds?: number;
  log?: Logger;
  now?: () => number;
}

export interface GroupServer {
  /** Where the server listens, e.g. https://127.0.0.1:8443. */
  url: string;
  /** The public URL used in invitations and e-mails. */
  publicUrl: string;
  /** SHA-256 of the TLS certificate (hex), or null in plain HTTP mode. */
  fingerprint: string | null;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Request bodies stay small: the largest form is group creation with its 4,000-character terms. */
export const BODY_LIMIT_BYTES = 32 * 1024;

export async function startGroupServer(options: GroupServerOptions): Promise<GroupServer> {
  await cryptoReady();
  const log = options.log ?? silentLogger;
  const now = options.now ?? Date.now;
  const dir = openDataDir(options.dataDir);
  const publicHost = options.publicUrl !== null ? new URL(options.publicUrl).hostname : null;
  const tls = options.http ? null : await ensureTlsCertificate(dir, publicHost !== null ? [publicHost] : [options.host]);
  const db = openDatabase(dir.database, now);
  const groupsStore = new GroupsStore(db);
  const membersStore = new MembersStore(db);
  const caKeys = new CaKeys(dir);
  const mailer = options.smtpUrl !== null ? createSmtpMailer(options.smtpUrl, options.smtpFrom ?? 'RingVPN group server <ringvpn@localhost>') : null;
  const limits: RateLimits = { ...DEFAULT_RATE_LIMITS, ...options.rateLimits };
  // Behind a TLS proxy (--http with an https:// public URL) browsers still reach the pages over HTTPS: cookies stay Secure.
  const secureCookies = !options.http || (options.publicUrl !== null && new URL(options.publicUrl).protocol === 'https:');

  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    ...(tls !== null ? { https: { key: tls.key, cert: tls.cert } } : {}),
    routerOptions: { maxParamLength: 200 },
    ...(options.trustProxy !== undefined && options.trustProxy.length > 0 ? { trustProxy: options.trustProxy } : {}),
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
  }) as unknown as FastifyInstance;

  let publicUrl = options.publicUrl?.replace(/\/+$/, '') ?? '';
  const notifierRef: { current: JoinNotifier } = { current: { newJoinRequest: () => {} } };
  const groupService = new GroupService({ db, groups: groupsStore, caKeys, now, log });
  const crlWatch = new CrlWatch();
  const membership = new MembershipService({
    db,
    groups: groupsStore,
    members: membersStore,
    caKeys,
    now,
    log,
    notifier: { newJoinRequest: (g, r) => notifierRef.current.newJoinRequest(g, r) },
    onCrlChanged: (groupId) => crlWatch.notify(groupId),
  });

  await app.register(fastifyHelmet, {
    strictTransportSecurity: false,
    contentSecurityPolicy: {
      directives: { 'upgrade-insecure-requests': options.http ? null : [], 'script-src': ["'none'"], 'img-src': ["'self'", 'data:'] },
    },
  });
  await app.register(fastifyCookie, { secret: loadOrCreateSecret(dir, 'cookie-secret') });
  await app.register(fastifyCsrf, {
    cookieOpts: { path: '/', sameSite: 'lax', httpOnly: true, signed: true, secure: secureCookies },
  });
  await app.register(fastifyFormbody, { bodyLimit: BODY_LIMIT_BYTES });
  await app.register(fastifyRateLimit, {
    global: false,
    errorResponseBuilder: (_req, context) =>
      new HttpError(429, `too many requests from your address; wait ${Math.ceil(context.ttl / 1000)} seconds and try again`),
  });

  app.setErrorHandler((error: FastifyError, req, reply) => sendError(error, req, reply, log));
  app.setNotFoundHandler((req, reply) => sendError(new HttpError(404, 'there is nothing at this address'), req, reply, log));

  const web = new WebContext(groupService, membership, limits, {
    get publicUrl() {
      return publicUrl;
    },
    fingerprint: tls?.fingerprint ?? null,
    secureCookies,
    openGroupCreation: options.openGroupCreation ?? false,
  });
  registerApiRoutes(app, membership, limits, crlWatch, options.crlWaitCapSeconds);
  app.addHook('preClose', async () => crlWatch.close());
  registerAuthRoutes(app, web);
  registerAdminRoutes(app, web);
  registerJoinRoutes(app, web);

  await app.listen({ port: options.port, host: options.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `${options.http ? 'http' : 'https'}://${hostForUrl}:${port}`;
  if (publicUrl === '') publicUrl = url;
  notifierRef.current = createAdminNotifier({ mailer, groups: groupsStore, publicUrl, log });

  return {
    url,
    publicUrl,
    fingerprint: tls?.fingerprint ?? null,
    app,
    async close() {
      await app.close();
      mailer?.close();
      db.close();
    },
  };
}

const PLAIN_WORDS: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: `the request is too large (at most ${BODY_LIMIT_BYTES / 1024} KiB)`,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'send the request as JSON (Content-Type: application/json) or as a form',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'the request body is empty; send a JSON object',
  FST_ERR_CTP_INVALID_JSON_BODY: 'the request body is not valid JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'the request length does not match its Content-Length',
  FST_CSRF_MISSING_SECRET: 'the form has expired or came from another site; reload the page and try again',
  FST_CSRF_INVALID_TOKEN: 'the form has expired or came from another site; reload the page and try again',
};

/** Every failure becomes `{error}` JSON for the API and an error page for people; never a stack trace. */
function sendError(error: FastifyError | HttpError | Error, req: FastifyRequest, reply: FastifyReply, log: Logger): FastifyReply {
  let status = 500;
  let message = 'something went wrong on the server; try again later';
  if (error instanceof HttpError) {
    status = error.statusCode;
    message = error.message;
  } else {
    const e = error as FastifyError;
    const code = typeof e.code === 'string' ? e.code : '';
    const s = typeof e.statusCode === 'number' ? e.statusCode : 500;
    if (s >= 400 && s < 500) {
      status = s;
      message = PLAIN_WORDS[code] ?? (error instanceof SyntaxError ? 'the request body is not valid JSON' : 'the request could not be understood');
    }
  }
  if (status >= 500) log.error('request failed', { method: req.method, path: req.routeOptions.url ?? 'unknown', reason: String(error.message) });
  if (req.url.startsWith(`${API_PREFIX}/`) || req.url === API_PREFIX) {
    return reply.code(status).type('application/json; charset=utf-8').send({ error: message });
  }
  const title = status === 404 ? 'Not found' : status === 403 ? 'Not allowed' : status === 429 ? 'Slow down' : status >= 500 ? 'Server error' : 'Something is wrong';
  return reply.code(status).type('text/html; charset=utf-8').send(page({ title }, errorBody(title, capitalise(message))));
}
