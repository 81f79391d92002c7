// Calling the REST dialects as an integration would: JSON or form bodies, bearer or bare
// credentials, and the parsed answer.
import { SignJWT } from 'jose';
import { expect } from 'vitest';
import { JWT_SECRET, type Harness } from '../helpers/app.js';

export interface RestAnswer<T = any> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

export interface RestOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** The raw Authorization header value (the catalog dialect's bare key). */
  authorization?: string;
  json?: unknown;
  form?: Record<string, string>;
  /** A raw body (malformed JSON and the like). */
  body?: string;
  headers?: Record<string, string>;
  ip?: string;
}

export async function rest<T = any>(
  h: Harness,
  method: string,
  path: string,
  options: RestOptions = {},
): Promise<RestAnswer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  let body: string | undefined = options.body;
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  } else if (body !== undefined) {
    headers['content-type'] ??= 'application/json';
  }
  const response = await h.request(path, { method, headers, body, token: options.token, ip: options.ip });
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: response.status, body: parsed as T, text, headers: response.headers };
}

/** An HS256 JWT whose subject is the user's uuid (the harness configures JWT_SECRET). */
export function jwtFor(userUuid: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userUuid)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(JWT_SECRET));
}

/** No stack, SQL or internals in an error answer. */
export function expectCleanError(answer: RestAnswer): void {
  expect(answer.status).toBeGreaterThanOrEqual(400);
  expect(answer.status).toBeLessThan(500);
  expect(answer.headers.get('content-type')).toMatch(/application\/json/);
  expect(answer.text).not.toMatch(/\bat .+\.(ts|js):\d+|prisma|SELECT |invalid input syntax/i);
}

/** A graph mutation that must succeed; returns its success payload. */
export async function graph(
  h: Harness,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<any> {
  const { data, errors } = await h.gql(query, variables, { token });
  if (errors?.length) throw new Error(JSON.stringify(errors));
  return data;
}
