// The catalog's Users API (SPEC §7.2, §10.1): the key is the bare Authorization value; users
// are listed with page/per_page (a Link header names the next page); an incremental read asks
// for updated_at_from = since minus an overlap window (clocks and transactions in flight), and
// records a page repeats from an earlier one of the same read are dropped (by id).
import type {
  Checkpoint,
  ConnectorWrites,
  Page,
  ReadOptions,
  RecordError,
  SourceRecord,
  StreamName,
  WriteOperation,
  WriteOutcome,
} from '../modules/backends/contract.js';
import {
  BaseConnector,
  checkpointInt,
  Drift,
  isObject,
  isProblem,
  optionalString,
  parseItems,
  timestamp,
} from './base.js';
import type { paths } from './generated/catalog.js';

const MAX_PER_PAGE = 100;

export class CatalogConnector extends BaseConnector<paths> implements ConnectorWrites {
  readonly kind = 'CATALOG' as const;
  readonly streams = ['catalog.users'] as const;

  async *readPages(stream: StreamName, from: Checkpoint | null, options: ReadOptions): AsyncIterable<Page> {
    this.assertStream(stream, true);
    const perPage = Math.min(this.transport.options.pageSize, MAX_PER_PAGE);
    let page = checkpointInt(from, 'page', 1, 1);
    // The window is fixed when the read starts and travels in the checkpoint, so a resumed read asks the same question.
    let updatedFrom = typeof from?.updatedFrom === 'string' ? from.updatedFrom : null;
    if (!from && !options.full && options.since)
      updatedFrom = new Date(options.since.getTime() - this.transport.options.overlapMs).toISOString();
    const seen = new Set<string>();
    const drift = new Drift(from);
    const count = this.pageCap();
    for (;;) {
      count();
      const query = { page, per_page: perPage, ...(updatedFrom ? { updated_at_from: updatedFrom } : {}) };
      const { data, response, requests } = await this.call(options.signal, (fetch) =>
        this.client.GET('/api/v1/users', { params: { query }, fetch, signal: options.signal }),
      );
      if (response.status === 404)
        throw this.protocol('GET /api/v1/users answered 404: is the baseUrl that of the catalog API?');
      const users = isObject(data) ? (data as { users?: unknown }).users : undefined;
      if (!Array.isArray(users)) throw this.protocol('the answer to GET /api/v1/users has no "users" list');
      const { records, errors } = parseItems(users, catalogUser);
      const fresh = this.dedupe(seen, records);
      // A full page of nothing new: the backend ignores `page` and would send this page forever.
      if (records.length > 0 && fresh.length === 0 && records.length >= perPage) {
        throw this.protocol(
          `page ${page} repeats records an earlier page of this read gave: the backend does not page`,
        );
      }
      const nextPage = nextFromLink(response.headers.get('link'));
      if (nextPage !== null && nextPage <= page)
        throw this.protocol(`page ${page} links to page ${nextPage} as the next one (a loop)`);
      // Without a Link header a full page means there may be more.
      const more =
        users.length > 0 && (nextPage !== null || (!response.headers.has('link') && users.length >= perPage));
      const next = more ? { page: nextPage ?? page + 1, ...(updatedFrom ? { updatedFrom } : {}) } : null;
      const total = response.headers.get('x-total-count');
      drift.observe(total !== null && /^\d+$/.test(total) ? Number(total) : null);
      yield this.page(fresh, errors, next, requests, drift);
      if (!next) return;
      page = next.page;
    }
  }

  async readOne(stream: StreamName, nativeId: string, signal?: AbortSignal): Promise<SourceRecord | 'GONE'> {
    this.assertStream(stream, false);
    const id = /^\d{1,10}$/.test(nativeId) ? Number(nativeId) : NaN;
    if (!(id >= 1))
      throw new Error(`a catalog user id is a positive integer, not ${JSON.stringify(nativeId.slice(0, 40))}`);
    const { data, response } = await this.call(signal, (fetch) =>
      this.client.GET('/api/v1/users/{id}', { params: { path: { id } }, fetch, signal }),
    );
    if (response.status === 404) return 'GONE';
    const result = catalogUser(isObject(data) ? (data as { user?: unknown }).user : undefined);
    if ('reason' in result)
      throw this.protocol(`GET /api/v1/users/${id} answered a user that is not one: ${result.reason}`);
    return result;
  }

  /**
   * POST /api/v1/users (a taken email_address: 409), PUT /api/v1/users/{id} (the fields given),
   * DELETE /api/v1/users/{id} (only_orders_and_enrollments=true: only those).
   */
  async write(operation: WriteOperation, signal?: AbortSignal): Promise<WriteOutcome> {
    if (operation.op === 'catalog.createUser') {
      const { data, error, response, requests } = await this.call(signal, (fetch) =>
        this.client.POST('/api/v1/users', { body: operation.fields as never, fetch, signal }),
      );
      if (!response.ok) return this.refusal(response, error, requests);
      return this.accepted(
        'POST /api/v1/users',
        catalogUser(isObject(data) ? (data as { user?: unknown }).user : undefined),
        requests,
      );
    }
    if (operation.op === 'catalog.deleteUser') {
      const id = catalogId(operation.nativeId);
      const query = operation.onlyOrdersAndEnrollments ? { only_orders_and_enrollments: true } : undefined;
      const { error, response, requests } = await this.call(signal, (fetch) =>
        this.client.DELETE('/api/v1/users/{id}', {
          params: { path: { id }, ...(query ? { query } : {}) },
          fetch,
          signal,
        }),
      );
      if (!response.ok) return this.refusal(response, error, requests);
      return { ok: true, record: null, requests };
    }
    if (operation.op === 'catalog.updateUser') {
      const id = catalogId(operation.nativeId);
      const { data, error, response, requests } = await this.call(signal, (fetch) =>
        this.client.PUT('/api/v1/users/{id}', {
          params: { path: { id } },
          body: operation.fields as never,
          fetch,
          signal,
        }),
      );
      if (!response.ok) return this.refusal(response, error, requests);
      return this.accepted(
        `PUT /api/v1/users/${id}`,
        catalogUser(isObject(data) ? (data as { user?: unknown }).user : undefined),
        requests,
      );
    }
    return this.foreign(operation);
  }
}

/** A catalog user id (a positive integer); anything else is a programming error, never sent. */
function catalogId(nativeId: string): number {
  const id = /^\d{1,10}$/.test(nativeId) ? Number(nativeId) : NaN;
  if (!(id >= 1))
    throw new Error(`a catalog user id is a positive integer, not ${JSON.stringify(nativeId.slice(0, 40))}`);
  return id;
}

/** The page number of the Link header's rel="next", or null. */
function nextFromLink(link: string | null): number | null {
  if (!link) return null;
  for (const part of link.split(',')) {
    const match = /<([^>]*)>\s*;(.*)/.exec(part.trim());
    if (!match || !/\brel="?next"?/i.test(match[2]!)) continue;
    try {
      const page = Number(new URL(match[1]!, 'http://x').searchParams.get('page'));
      return Number.isSafeInteger(page) && page >= 1 ? page : null;
    } catch {
      return null;
    }
  }
  return null;
}

export function catalogUser(raw: unknown): SourceRecord | RecordError {
  if (!isObject(raw)) return { nativeId: null, reason: 'a user is not an object' };
  const id = raw.id;
  if (!Number.isSafeInteger(id) || (id as number) < 1)
    return {
      nativeId: typeof id === 'string' || typeof id === 'number' ? String(id).slice(0, 100) : null,
      reason: 'id is not a positive integer',
    };
  const nativeId = String(id);
  const email = optionalString(raw.email_address, 'email_address');
  if (isProblem(email)) return { nativeId, reason: email.reason };
  const updated = timestamp(raw.updated_at, 'updated_at');
  if (isProblem(updated)) return { nativeId, reason: updated.reason };
  return { stream: 'catalog.users', entity: 'USER', nativeId, key: email, email, sourceUpdatedAt: updated, data: raw };
}
