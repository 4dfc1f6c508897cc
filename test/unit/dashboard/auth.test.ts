import { describe, expect, it } from 'vitest';
import { DashboardAuth, parseCookies, SESSION_COOKIE } from '../../../src/dashboard/auth.js';

const TOKEN = 'a-token-of-twenty-chars';

describe('the dashboard with a token', () => {
  const auth = new DashboardAuth({ token: TOKEN });
  const cookie = parseCookies(auth.sessionCookie(false))[SESSION_COOKIE]!;

  it('accepts the token only as it is', () => {
    expect(auth.checkToken(TOKEN)).toBe(true);
    expect(auth.checkToken(`${TOKEN} `)).toBe(false);
    expect(auth.checkToken('')).toBe(false);
  });

  it('gives browsers a session cookie that is not the token', () => {
    expect(cookie).toMatch(/^[0-9a-f]{64}$/);
    expect(auth.sessionCookie(false)).not.toContain(TOKEN);
    expect(auth.sessionCookie(false)).toMatch(/HttpOnly; SameSite=Strict; Path=\/$/);
    expect(auth.sessionCookie(true)).toMatch(/; Secure$/);
    expect(auth.csrf).not.toContain(TOKEN);
    expect(auth.csrf).not.toBe(cookie);
  });

  it('lets in the session cookie or the bearer token, and nothing else', () => {
    expect(auth.authenticated({ headers: { cookie: `other=1; ${SESSION_COOKIE}=${cookie}` } })).toBe(true);
    expect(auth.authenticated({ headers: { authorization: `Bearer ${TOKEN}` } })).toBe(true);
    expect(auth.authenticated({ headers: { authorization: 'Bearer wrong-token-of-some-length' } })).toBe(false);
    expect(auth.authenticated({ headers: { cookie: `${SESSION_COOKIE}=${cookie.replace(/.$/, 'x')}` } })).toBe(false);
    expect(auth.authenticated({ headers: { host: '127.0.0.1:8790' } })).toBe(false);
  });

  it('takes an action only with the page CSRF token and from its own origin', () => {
    const host = '127.0.0.1:8790';
    expect(auth.forgery({ headers: { host, 'x-csrf-token': auth.csrf } })).toBeUndefined();
    expect(auth.forgery({ headers: { host, origin: `http://${host}`, 'x-csrf-token': auth.csrf } })).toBeUndefined();
    expect(auth.forgery({ headers: { host } })).toMatch(/CSRF token/);
    expect(auth.forgery({ headers: { host, 'x-csrf-token': 'f'.repeat(64) } })).toMatch(/CSRF token/);
    expect(auth.forgery({ headers: { host, origin: 'http://evil.example', 'x-csrf-token': auth.csrf } })).toMatch(/evil\.example/);
    expect(auth.forgery({ headers: { host, origin: 'null', 'x-csrf-token': auth.csrf } })).toMatch(/opaque/);
    // A script with the token: browsers never add an Authorization header by themselves.
    expect(auth.forgery({ headers: { host, authorization: `Bearer ${TOKEN}` } })).toBeUndefined();
  });
});

describe('the dashboard without a token', () => {
  const auth = new DashboardAuth({ token: undefined });

  it('answers only under a loopback host name', () => {
    expect(auth.required).toBe(false);
    expect(auth.authenticated({ headers: { host: '127.0.0.1:8790' } })).toBe(true);
    expect(auth.authenticated({ headers: { host: 'localhost:8790' } })).toBe(true);
    expect(auth.authenticated({ headers: { host: '[::1]:8790' } })).toBe(true);
    expect(auth.authenticated({ headers: { host: 'attacker.example:8790' } })).toBe(false);
    expect(auth.authenticated({ headers: {} })).toBe(false);
  });

  it('still wants the CSRF token of this process for an action, even with a bearer header', () => {
    expect(auth.csrf).toMatch(/^[0-9a-f]{64}$/);
    expect(new DashboardAuth({ token: undefined }).csrf).not.toBe(auth.csrf);
    expect(auth.forgery({ headers: { host: '127.0.0.1:8790', authorization: 'Bearer anything' } })).toMatch(/CSRF token/);
  });
});
