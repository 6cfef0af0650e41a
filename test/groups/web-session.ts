import http from 'node:http';
import https from 'node:https';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One HTTP(S) request to a test server on loopback; TLS certificates are not checked (the tests pin elsewhere). */
export function rawRequest(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<RawResponse> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      u,
      { method: init.method ?? 'GET', headers: { connection: 'close', ...init.headers }, rejectUnauthorized: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

export async function postJson(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown>; text: string }> {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await rawRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload });
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(res.text) as Record<string, unknown>;
  } catch {
    /* left empty: the caller asserts on it */
  }
  return { status: res.status, json, text: res.text };
}

export function decodeEntities(text: string): string {
  return text
    .replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n)))
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"');
}

/** A browser-like session without a browser: keeps cookies and the CSRF token of the last page. */
export class WebSession {
  private readonly cookies = new Map<string, string>();
  csrf = '';
  last: RawResponse = { status: 0, headers: {}, text: '' };

  /** Mutable: a restarted test server listens on another port, and the browser keeps its cookies. */
  constructor(public baseUrl: string) {}

  private cookieHeader(): Record<string, string> {
    return this.cookies.size === 0 ? {} : { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
  }

  private remember(res: RawResponse): RawResponse {
    for (const c of res.headers['set-cookie'] ?? []) {
      const [pair] = c.split(';');
      const eq = (pair as string).indexOf('=');
      const name = (pair as string).slice(0, eq);
      const value = (pair as string).slice(eq + 1);
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const token = /name="_csrf" value="([^"]+)"/.exec(res.text);
    if (token !== null) this.csrf = decodeEntities(token[1] as string);
    this.last = res;
    return res;
  }

  async get(path: string): Promise<RawResponse> {
    return this.remember(await rawRequest(this.baseUrl + path, { headers: this.cookieHeader() }));
  }

  /** Posts a form with the current CSRF token and follows one redirect, as a browser would. */
  async post(path: string, fields: Record<string, string>, options: { csrf?: boolean } = {}): Promise<RawResponse> {
    const form = new URLSearchParams(options.csrf === false ? fields : { _csrf: this.csrf, ...fields }).toString();
    const res = this.remember(
      await rawRequest(this.baseUrl + path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...this.cookieHeader() },
        body: form,
      }),
    );
    if (res.status === 303 && typeof res.headers.location === 'string') return this.get(res.headers.location);
    return res;
  }
}
