// What the four dialects share: a Hono sub-app that guards every route (its OpenAPI
// document included), limits body sizes, renders every failure in the dialect's own error
// envelope, reads bodies so that bad input is a 400 (never a 500), and answers an unknown
// path with 404 and a known path with the wrong method with 405.
import { Hono, type Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { isUser, type UserPrincipal } from '../auth/principal.js';
import { DomainError, ForbiddenError, NotFoundError, ValidationError, type FieldIssue } from '../errors.js';
import { BackendUnavailableError } from '../modules/backends/errors.js';
import { RateLimitedError } from '../auth/errors.js';
import { isUuid } from '../store/ids.js';
import { DATE_RANGE, storableDate, unstorable } from '../validation.js';
import {
  guard,
  httpStatus,
  limitBody,
  requestContext,
  type DialectDeps,
  type HttpContext,
  type HttpEnv,
} from '../http.js';
import type { RequestContext } from '../auth/context.js';
import { passThrough } from './proxy.js';

export type { DialectDeps, HttpContext, HttpEnv };

/** A failure as a dialect renders it. `code` is lower-case snake ("not_found"). */
export interface Failure {
  status: number;
  code: string;
  message: string;
  issues?: readonly FieldIssue[];
}

export type RenderFailure = (c: Context<HttpEnv>, failure: Failure) => Response;

export interface DialectOptions {
  /** Mount prefix, e.g. "/rest/learning" (for the 404/405 fallback). */
  prefix: string;
  openapi: object;
  render: RenderFailure;
  /** Service field names (issue paths) → the dialect's wire names, for error messages. */
  fieldNames?: Record<string, string>;
  /** A dialect's own reading of some errors (the learning dialect's 422 duplicates). */
  failure?: (error: DomainError) => Failure | undefined;
  /** Rewrites the Authorization header of the source API into one the guard reads. */
  authorization?: (value: string) => string;
}

/**
 * A new dialect sub-app: the REST guard on every route, its OpenAPI document included
 * (without credentials only the health checks and the GraphiQL page answer).
 */
export function dialectApp(deps: DialectDeps, options: DialectOptions): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  app.use(
    '*',
    limitBody(deps.maxBodyBytes, (c, message) =>
      options.render(c, { status: 413, code: 'payload_too_large', message }),
    ),
  );
  const rewrite = options.authorization;
  if (rewrite) {
    app.use('*', async (c, next) => {
      const value = c.req.header('authorization');
      const rewritten = value === undefined ? value : rewrite(value);
      if (rewritten !== value && rewritten !== undefined) {
        const headers = new Headers(c.req.raw.headers);
        headers.set('authorization', rewritten);
        c.req.raw = new Request(c.req.raw, { headers });
      }
      await next();
    });
  }
  app.use('*', guard(deps.guards, 'rest'));
  app.get('/openapi.json', (c) => c.json(options.openapi));
  // PostgreSQL stores no NUL character in text or JSON: refuse it at the edge (400), in the
  // URL here and in bodies where they are read.
  app.use('*', async (c, next) => {
    if (/%00/.test(c.req.url)) throw new ValidationError('must not contain NUL characters (%00)', 'url');
    await next();
  });
  // A connected kind's routes forward a partner admin's requests to the partner's backend (proxy.ts).
  app.use('*', passThrough(deps, options.prefix, options.render));
  app.onError((error, c) => {
    if (error instanceof RateLimitedError) c.header('retry-after', String(error.retryAfterSeconds));
    if (error instanceof BackendUnavailableError && error.retryAfter !== null)
      c.header('retry-after', String(error.retryAfter));
    if (error instanceof DomainError)
      return options.render(c, options.failure?.(error) ?? toFailure(error, options.fieldNames));
    if (error instanceof HTTPException) return error.getResponse();
    deps.logger.error({ err: error, requestId: c.get('requestId') }, 'unexpected error');
    return options.render(c, {
      status: 500,
      code: 'internal',
      message: `Unexpected error (request ${c.get('requestId')}).`,
    });
  });
  return app;
}

/**
 * Registers the fallback: a path the dialect serves under another method answers 405 with
 * `Allow`, anything else 404. Call it after every route.
 */
export function finishDialect(app: Hono<HttpEnv>, options: Pick<DialectOptions, 'prefix' | 'render'>): Hono<HttpEnv> {
  const routes = dialectRoutes(app).map((r) => ({ method: r.method, pattern: routePattern(options.prefix + r.path) }));
  app.all('*', (c) => {
    const allowed = [...new Set(routes.filter((r) => r.pattern.test(c.req.path)).map((r) => r.method))];
    if (allowed.length) {
      c.header('allow', allowed.join(', '));
      return options.render(c, {
        status: 405,
        code: 'method_not_allowed',
        message: `${c.req.method} is not allowed on ${c.req.path}; use ${allowed.join(' or ')}`,
      });
    }
    return options.render(c, { status: 404, code: 'no_route', message: `no route for ${c.req.method} ${c.req.path}` });
  });
  return app;
}

/** The method + path pairs a dialect serves (middleware and the fallback left out). */
export function dialectRoutes(app: Hono<HttpEnv>): { method: string; path: string }[] {
  const seen = new Set<string>();
  return app.routes
    .filter((r) => r.method !== 'ALL')
    .map((r) => ({ method: r.method, path: r.path }))
    .filter((r) => !seen.has(`${r.method} ${r.path}`) && seen.add(`${r.method} ${r.path}`));
}

// Exact paths, as the router matches them: a trailing slash is another (unknown) path.
const routePattern = (path: string) =>
  new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:\w+/g, '[^/]+')}$`);

// ---------------------------------------------------------------------------- failures

const CODES: Record<string, string> = {
  NOT_FOUND: 'not_found',
  VALIDATION: 'invalid',
  CONFLICT: 'conflict',
  FORBIDDEN: 'forbidden',
  PII_REJECTED: 'pii_rejected',
  UNAUTHENTICATED: 'unauthenticated',
  RATE_LIMITED: 'rate_limited',
};

/** A bad request field found by a route declaration: its issues already name wire fields. */
export class WireValidationError extends ValidationError {}

/** A DomainError as a Failure, with service field names renamed to the dialect's. */
export function toFailure(error: DomainError, fieldNames: Record<string, string> = {}): Failure {
  const code = CODES[error.code] ?? error.code.toLowerCase();
  if (!(error instanceof ValidationError)) return { status: httpStatus(error), code, message: error.message };
  const issues =
    error instanceof WireValidationError
      ? error.issues
      : error.issues.map((i) => ({ field: wireField(i.field, fieldNames), message: i.message }));
  return { status: httpStatus(error), code, message: issues.map((i) => `${i.field}: ${i.message}`).join('; '), issues };
}

function wireField(field: string, names: Record<string, string>): string {
  return field
    .replace(/^input\./, '')
    .split('.')
    .map((part) => names[part] ?? part)
    .join('.');
}

export const send = (c: Context<HttpEnv>, body: unknown, status: number) =>
  c.json(body as object, status as ContentfulStatusCode);

// ---------------------------------------------------------------------------- requests

/** The service context of the request and its caller, who must be a user of a partner. */
export function caller(c: HttpContext, deps: DialectDeps): { ctx: RequestContext; principal: UserPrincipal } {
  const ctx = requestContext(c, deps);
  if (!isUser(ctx.principal)) throw new ForbiddenError('this API is for users of a partner');
  return { ctx, principal: ctx.principal };
}

/** A user id in a path must be a uuid: anything else names nobody (404, not a cast error). */
export function uuidParam(value: string, entity: string): string {
  if (!isUuid(value)) throw new NotFoundError(entity, value.slice(0, 100));
  return value.toLowerCase();
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The JSON object body; an empty body is `{}`; anything else is a 400. */
export async function jsonBody(c: HttpContext): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (!text.trim()) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ValidationError('malformed JSON', 'body');
  }
  if (!isObject(value)) throw new ValidationError('must be a JSON object', 'body');
  assertStorable(value);
  return value;
}

const MAX_BODY_DEPTH = 32;

/**
 * Refuses what PostgreSQL cannot store (NUL characters, unpaired surrogates) and very deep
 * nesting (the services' JSON checks recurse) anywhere in a parsed body: the same check as
 * the graph's (validation.ts `unstorable`), with the dialects' tighter depth.
 */
function assertStorable(value: unknown): void {
  const problem = unstorable(value, 'body', MAX_BODY_DEPTH);
  if (!problem) return;
  const colon = problem.indexOf(': ');
  throw new ValidationError([{ field: problem.slice(0, colon), message: problem.slice(colon + 2) }]);
}

/**
 * A form (application/x-www-form-urlencoded or multipart) or JSON body as an object. Form
 * fields in bracket notation (`custom_fields[phone]=…`) become nested objects.
 */
export async function formOrJsonBody(c: HttpContext): Promise<Record<string, unknown>> {
  const type = c.req.header('content-type')?.toLowerCase() ?? '';
  if (type.startsWith('application/x-www-form-urlencoded')) {
    const body = fromPairs(new URLSearchParams(await c.req.text()));
    assertStorable(body);
    return body;
  }
  if (type.startsWith('multipart/form-data')) {
    let form: FormData;
    try {
      form = await c.req.formData();
    } catch {
      throw new ValidationError('malformed multipart form', 'body');
    }
    const pairs: [string, string][] = [];
    for (const [key, value] of form.entries()) {
      if (typeof value !== 'string') throw new ValidationError('file uploads are not accepted', key);
      pairs.push([key, value]);
    }
    const body = fromPairs(pairs);
    assertStorable(body);
    return body;
  }
  return jsonBody(c);
}

function fromPairs(pairs: Iterable<[string, string]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of pairs) {
    const nested = /^([^[\]]+)\[([^[\]]*)\]$/.exec(key);
    const [name, sub] = nested ? [nested[1]!, nested[2]!] : [key, undefined];
    // No field is named so; a key inside one (custom_fields[__proto__]) is data, as in JSON.
    if (UNSAFE_KEYS.has(name)) throw new ValidationError('is not an accepted field name', key);
    if (sub === undefined) {
      out[name] = value;
      continue;
    }
    const holder = Object.hasOwn(out, name) && isObject(out[name]) ? (out[name] as Record<string, unknown>) : {};
    // Defined, not assigned: assigning "__proto__" would set the holder's prototype instead.
    Object.defineProperty(holder, sub, { value, enumerable: true, writable: true, configurable: true });
    out[name] = holder;
  }
  return out;
}

const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

// ---------------------------------------------------------------------------- values

/** A whole number in [min, max] from a query or form string (or a JSON number). */
export function intValue(value: unknown, field: string, min: number, max: number): number {
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^-?\d{1,16}$/.test(value.trim())
        ? Number(value.trim())
        : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new ValidationError(`must be a whole number from ${min} to ${max}`, field);
  return n;
}

/** An optional whole number: absent or empty → undefined. */
export const optionalInt = (
  value: unknown,
  field: string,
  min: number,
  max: number,
  fallback?: number,
): number | undefined =>
  value === undefined || value === null || value === '' ? fallback : intValue(value, field, min, max);

/** true/false from JSON booleans or the strings true/false/1/0. */
export function boolValue(value: unknown, field: string): boolean | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|1)$/i.test(value)) return true;
  if (typeof value === 'string' && /^(false|0)$/i.test(value)) return false;
  throw new ValidationError('must be true or false', field);
}

/** An ISO-8601 date or timestamp (UTC unless it names an offset). */
export function dateValue(value: string | undefined, field: string): Date | undefined {
  if (value === undefined || value === '') return undefined;
  const iso = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;
  const trimmed = value.trim();
  // A timestamp without an offset is UTC here, not the server's local time.
  const withZone = /[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(trimmed) ? `${trimmed}Z` : trimmed;
  const [year, month, day] = trimmed.slice(0, 10).split('-').map(Number) as [number, number, number];
  // new Date() rolls 2020-02-30 over to March: only real calendar days pass.
  const realDay = new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day && month >= 1 && month <= 12;
  const date = iso.test(trimmed) && realDay ? new Date(withZone.replace(' ', 'T')) : new Date(NaN);
  if (Number.isNaN(date.getTime()))
    throw new ValidationError('must be an ISO-8601 date such as 2018-01-01T00:00:00Z', field);
  if (!storableDate(date)) throw new ValidationError(DATE_RANGE, field);
  return date;
}

/** A string field or undefined; a non-string is a 400. */
export function stringValue(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ValidationError('must be a string', field);
  return value;
}

export const iso = (date: Date | null | undefined) => (date ? date.toISOString() : null);
