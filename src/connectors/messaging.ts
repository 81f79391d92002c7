// The messaging platform's Account API (SPEC §7.3, §10.1): bearer key; every account associated
// with the key's own (itself and its sub-accounts) is listed in `{"data":{"items":[{"data",
// "type":"account"}],"page_info":{"after",…}},"type":"list"}` pages, `after`/`limit` cursors.
// The API has no change filter: every read is a full one. A cursor the read already followed
// is a loop (the backend would send the same pages forever).
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
import { BaseConnector, Drift, idOf, isObject, isProblem, parseItems, timestamp } from './base.js';
import type { paths } from './generated/messaging.js';

const MAX_LIMIT = 100;
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/i;

export class MessagingConnector extends BaseConnector<paths> implements ConnectorWrites {
  readonly kind = 'MESSAGING' as const;
  readonly streams = ['messaging.accounts'] as const;

  async *readPages(stream: StreamName, from: Checkpoint | null, options: ReadOptions): AsyncIterable<Page> {
    this.assertStream(stream, true);
    const limit = Math.min(this.transport.options.pageSize, MAX_LIMIT);
    if (from && typeof from.after !== 'string') throw new Error('checkpoint after must be a cursor string');
    let after = (from?.after as string | undefined) ?? null;
    const followed = new Set<string>();
    const seen = new Set<string>();
    const drift = new Drift(from);
    const count = this.pageCap();
    for (;;) {
      count();
      const query = { limit, ...(after ? { after } : {}) };
      const { data, response, requests } = await this.call(options.signal, (fetch) =>
        this.client.GET('/api/v1/accounts', { params: { query }, fetch, signal: options.signal }),
      );
      if (response.status === 404)
        throw this.protocol('GET /api/v1/accounts answered 404: is the baseUrl that of the messaging API?');
      const list =
        isObject(data) && (data as { type?: unknown }).type === 'list' ? (data as { data?: unknown }).data : undefined;
      const items = isObject(list) ? list.items : undefined;
      const pageInfo = isObject(list) ? list.page_info : undefined;
      if (!Array.isArray(items) || !isObject(pageInfo))
        throw this.protocol(
          'the answer to GET /api/v1/accounts is not a {"data":{"items","page_info"},"type":"list"} envelope',
        );
      const cursor = pageInfo.after;
      if (cursor !== null && cursor !== undefined && typeof cursor !== 'string')
        throw this.protocol('page_info.after is not a cursor string');
      const { records, errors } = parseItems(items, messagingAccount);
      const fresh = this.dedupe(seen, records);
      let next: Checkpoint | null = null;
      if (cursor && items.length > 0) {
        if (cursor === after || followed.has(cursor))
          throw this.protocol(
            `page_info.after repeats a cursor this read already followed (${cursor.slice(0, 40)}): a loop`,
          );
        followed.add(cursor);
        next = { after: cursor };
      }
      drift.observe(typeof pageInfo.total === 'number' ? pageInfo.total : null);
      yield this.page(fresh, errors, next, requests, drift);
      if (!next) return;
      after = cursor as string;
    }
  }

  async readOne(stream: StreamName, nativeId: string, signal?: AbortSignal): Promise<SourceRecord | 'GONE'> {
    this.assertStream(stream, false);
    this.assertId(nativeId);
    const { data, response } = await this.call(signal, (fetch) =>
      this.client.GET('/api/v1/accounts/{id}', { params: { path: { id: nativeId } }, fetch, signal }),
    );
    if (response.status === 404) return 'GONE';
    const result = messagingAccount(data);
    if ('reason' in result)
      throw this.protocol(
        `GET /api/v1/accounts/${nativeId.slice(0, 40)} answered an account that is not one: ${result.reason}`,
      );
    return result;
  }

  /** POST /api/v1/accounts: a sub-account of the credential's own account (201). */
  async write(operation: WriteOperation, signal?: AbortSignal): Promise<WriteOutcome> {
    if (operation.op !== 'messaging.createAccount') return this.foreign(operation);
    const { data, error, response, requests } = await this.call(signal, (fetch) =>
      this.client.POST('/api/v1/accounts', {
        body: { data: { name: operation.name }, type: 'account' } as never,
        fetch,
        signal,
      }),
    );
    if (!response.ok) return this.refusal(response, error, requests);
    return this.accepted('POST /api/v1/accounts', messagingAccount(data), requests);
  }
}

/** One `{"data": {...account}, "type": "account"}` item. */
export function messagingAccount(raw: unknown): SourceRecord | RecordError {
  if (!isObject(raw) || raw.type !== 'account' || !isObject(raw.data))
    return { nativeId: null, reason: 'an item is not a {"data":{...},"type":"account"} envelope' };
  const account = raw.data;
  if (typeof account.id !== 'string' || !ULID.test(account.id))
    return { nativeId: idOf(account.id), reason: 'id is not a ULID' };
  const nativeId = account.id.toUpperCase();
  if (typeof account.name !== 'string') return { nativeId, reason: 'name is not a string' };
  const updated = timestamp(account.updated_at, 'updated_at');
  if (isProblem(updated)) return { nativeId, reason: updated.reason };
  return {
    stream: 'messaging.accounts',
    entity: 'ACCOUNT',
    nativeId,
    key: null,
    email: null,
    sourceUpdatedAt: updated,
    data: account,
  };
}
