import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Who may use the dashboard. With a token (`RAGSYNC_DASHBOARD_TOKEN`), a browser signs in once on
 * the sign-in form and then carries a session cookie (HttpOnly, SameSite=Strict) derived from the
 * token, never the token itself; a script sends `Authorization: Bearer <token>`. Without one
 * (`--no-auth`, loopback only) every request is let in, but only under a loopback Host header, so
 * a web page of another site cannot reach it by DNS rebinding.
 *
 * Actions are POSTs that also need the CSRF token the page carries (a `<meta>` the page's own
 * script reads, sent back in `x-csrf-token`) and, when the browser sends one, an Origin equal to
 * the dashboard's own: another site's page can neither read the CSRF token nor forge the Origin.
 */
export const SESSION_COOKIE = 'ragsync_dashboard';

export interface DashboardAuthOptions {
  /** The users' token; undefined means no authentication (loopback only). */
  token: string | undefined;
}

export interface RequestLike {
  headers: Record<string, string | string[] | undefined>;
  protocol?: string;
}

const header = (request: RequestLike, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Host names a dashboard without authentication answers to. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export function isLoopbackAddress(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export class DashboardAuth {
  private readonly session: string | undefined;
  readonly csrf: string;

  constructor(private readonly options: DashboardAuthOptions) {
    const token = options.token;
    this.session = token ? createHmac('sha256', token).update('ragsync dashboard session').digest('hex') : undefined;
    // Without a token, a token of this process: the page still has to prove it was served here.
    this.csrf = token ? createHmac('sha256', token).update('ragsync dashboard csrf').digest('hex') : randomBytes(32).toString('hex');
  }

  get required(): boolean {
    return this.options.token !== undefined;
  }

  /** Whether the token a user typed is the right one. */
  checkToken(typed: string): boolean {
    return this.options.token !== undefined && equal(typed, this.options.token);
  }

  /** The Set-Cookie value of a signed-in browser. */
  sessionCookie(secure: boolean): string {
    return `${SESSION_COOKIE}=${this.session ?? ''}; HttpOnly; SameSite=Strict; Path=/${secure ? '; Secure' : ''}`;
  }

  static clearedCookie(): string {
    return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
  }

  /**
   * Whether the request may read: a valid session cookie or bearer token; without a token, any
   * request whose Host is a loopback name.
   */
  authenticated(request: RequestLike): boolean {
    if (!this.required) {
      const host = (header(request, 'host') ?? '').replace(/:\d+$/, '');
      return isLoopbackAddress(host);
    }
    const bearer = /^Bearer\s+(.+)$/i.exec(header(request, 'authorization') ?? '')?.[1];
    if (bearer !== undefined) return this.checkToken(bearer.trim());
    const cookie = parseCookies(header(request, 'cookie') ?? '')[SESSION_COOKIE];
    return cookie !== undefined && this.session !== undefined && equal(cookie, this.session);
  }

  /** Why a POST is refused (undefined: let it through); authentication is checked apart. */
  forgery(request: RequestLike): string | undefined {
    const bearer = /^Bearer\s/i.test(header(request, 'authorization') ?? '');
    // A script with the token needs no CSRF token: a browser never adds an Authorization header on its own.
    if (bearer && this.required) return undefined;
    const origin = header(request, 'origin');
    const host = header(request, 'host');
    if (origin !== undefined && origin !== 'null') {
      let originHost: string;
      try {
        originHost = new URL(origin).host;
      } catch {
        return 'the Origin header is not a URL';
      }
      if (originHost !== host) return `the request comes from ${origin}, not from this dashboard`;
    } else if (origin === 'null') return 'the request comes from an opaque origin';
    const sent = header(request, 'x-csrf-token');
    if (sent === undefined || !equal(sent, this.csrf)) return 'the CSRF token is missing or wrong: reload the page';
    return undefined;
  }
}

export function parseCookies(text: string): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const part of text.split(';')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    cookies[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return cookies;
}
