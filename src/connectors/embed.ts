// The course builder's headless Identities API (SPEC §7.4, §10.1): bearer key; clients and
// users listed with page (from 0) and length, `{"data":[…],"page","length","total"}`. No
// change filter: every read is a full one (the sync compares record hashes). A page the
// backend answers as another page, or one that repeats an earlier page's records, is a loop.
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
import { BaseConnector, checkpointInt, Drift, idOf, isObject, isProblem, parseItems, timestamp } from './base.js';
import type { paths } from './generated/embed.js';

const MAX_LENGTH = 1000;

type EmbedStream = 'embed.clients' | 'embed.users';

export class EmbedConnector extends BaseConnector<paths> implements ConnectorWrites {
  readonly kind = 'EMBED' as const;
  readonly streams = ['embed.clients', 'embed.users'] as const;

  async *readPages(stream: StreamName, from: Checkpoint | null, options: ReadOptions): AsyncIterable<Page> {
    this.assertStream(stream, true);
    const length = Math.min(this.transport.options.pageSize, MAX_LENGTH);
    let page = checkpointInt(from, 'page', 0, 0);
    const seen = new Set<string>();
    const drift = new Drift(from);
    const count = this.pageCap();
    const path = stream === 'embed.clients' ? '/v1/headless/clients' : '/v1/headless/users';
    for (;;) {
      count();
      const query = { page, length };
      const { data, response, requests } = await this.call(options.signal, (fetch) =>
        stream === 'embed.clients'
          ? this.client.GET('/v1/headless/clients', { params: { query }, fetch, signal: options.signal })
          : this.client.GET('/v1/headless/users', { params: { query }, fetch, signal: options.signal }),
      );
      if (response.status === 404)
        throw this.protocol(`GET ${path} answered 404: is the baseUrl that of the embed API?`);
      const body = isObject(data) ? (data as Record<string, unknown>) : undefined;
      const items = body?.data;
      const total = body?.total;
      if (!Array.isArray(items) || !Number.isSafeInteger(total))
        throw this.protocol(`the answer to GET ${path} is not a {"data":[…],"page","length","total"} page`);
      if (body!.page !== undefined && body!.page !== page)
        throw this.protocol(`GET ${path} answered page ${String(body!.page).slice(0, 20)} when asked for page ${page}`);
      const size =
        Number.isSafeInteger(body!.length) && (body!.length as number) > 0 ? (body!.length as number) : length;
      const { records, errors } = parseItems(items, (item) => embedRecord(stream as EmbedStream, item));
      const fresh = this.dedupe(seen, records);
      if (records.length > 0 && fresh.length === 0 && records.length >= size) {
        throw this.protocol(
          `page ${page} of ${path} repeats records an earlier page of this read gave: the backend does not page`,
        );
      }
      const next = items.length > 0 && (page + 1) * size < (total as number) ? { page: page + 1 } : null;
      drift.observe(total as number);
      yield this.page(fresh, errors, next, requests, drift);
      if (!next) return;
      page = next.page;
    }
  }

  async readOne(stream: StreamName, nativeId: string, signal?: AbortSignal): Promise<SourceRecord | 'GONE'> {
    this.assertStream(stream, false);
    this.assertId(nativeId);
    const params = { path: { identifier: nativeId } };
    const { data, response } = await this.call(signal, (fetch) =>
      stream === 'embed.clients'
        ? this.client.GET('/v1/headless/client/{identifier}', { params, fetch, signal })
        : this.client.GET('/v1/headless/user/{identifier}', { params, fetch, signal }),
    );
    if (response.status === 404) return 'GONE';
    const result = embedRecord(stream as EmbedStream, data);
    if ('reason' in result)
      throw this.protocol(
        `GET of ${stream === 'embed.clients' ? 'client' : 'user'} ${nativeId.slice(0, 40)} ` +
          `answered a record that is not one: ${result.reason}`,
      );
    return result;
  }

  /**
   * PUT /v1/headless/user/{identifier} (creates or merges), PUT /v1/headless/client/{identifier}
   * (creates or replaces), DELETE of either (a user's with action and reallocateTo; a client's cascades).
   */
  async write(operation: WriteOperation, signal?: AbortSignal): Promise<WriteOutcome> {
    if (operation.op === 'embed.deleteUser' || operation.op === 'embed.deleteClient') {
      this.assertId(operation.identifier);
      const path = { identifier: operation.identifier };
      const { error, response, requests } = await this.call(signal, (fetch) =>
        operation.op === 'embed.deleteUser'
          ? this.client.DELETE('/v1/headless/user/{identifier}', {
              params: {
                path,
                query: {
                  action: operation.action,
                  ...(operation.clientIdentifier ? { clientIdentifier: operation.clientIdentifier } : {}),
                  ...(operation.reallocateTo ? { reallocateTo: operation.reallocateTo } : {}),
                },
              },
              fetch,
              signal,
            })
          : this.client.DELETE('/v1/headless/client/{identifier}', { params: { path }, fetch, signal }),
      );
      if (!response.ok) return this.refusal(response, error, requests);
      return { ok: true, record: null, requests };
    }
    if (operation.op === 'embed.putUser' || operation.op === 'embed.putClient') {
      this.assertId(operation.identifier);
      const params = { path: { identifier: operation.identifier } };
      const user = operation.op === 'embed.putUser';
      const { data, error, response, requests } = await this.call(signal, (fetch) =>
        operation.op === 'embed.putUser'
          ? this.client.PUT('/v1/headless/user/{identifier}', {
              params,
              body: operation.fields as never,
              fetch,
              signal,
            })
          : this.client.PUT('/v1/headless/client/{identifier}', {
              params,
              body: { metadata: operation.metadata } as never,
              fetch,
              signal,
            }),
      );
      if (!response.ok) return this.refusal(response, error, requests);
      const call = `PUT /v1/headless/${user ? 'user' : 'client'}/${operation.identifier.slice(0, 40)}`;
      return this.accepted(call, embedRecord(user ? 'embed.users' : 'embed.clients', data), requests);
    }
    return this.foreign(operation);
  }
}

export function embedRecord(stream: EmbedStream, raw: unknown): SourceRecord | RecordError {
  const what = stream === 'embed.clients' ? 'client' : 'user';
  if (!isObject(raw)) return { nativeId: null, reason: `a ${what} is not an object` };
  const identifier = raw.identifier;
  if (typeof identifier !== 'string' || identifier === '' || identifier.length > 255)
    return { nativeId: idOf(identifier), reason: 'identifier is not a non-empty string' };
  const metadata = raw.metadata;
  if (metadata !== undefined && metadata !== null && !isObject(metadata))
    return { nativeId: identifier, reason: 'metadata is not an object' };
  const updated = timestamp(raw.updatedAt, 'updatedAt');
  if (isProblem(updated)) return { nativeId: identifier, reason: updated.reason };
  if (stream === 'embed.clients') {
    return {
      stream,
      entity: 'CLIENT',
      nativeId: identifier,
      key: identifier,
      email: null,
      sourceUpdatedAt: updated,
      data: raw,
    };
  }
  if (raw.clientIdentifier !== undefined && raw.clientIdentifier !== null && typeof raw.clientIdentifier !== 'string') {
    return { nativeId: identifier, reason: 'clientIdentifier is not a string' };
  }
  const email =
    isObject(metadata) && typeof metadata.email === 'string' && metadata.email !== '' ? metadata.email : null;
  return { stream, entity: 'USER', nativeId: identifier, key: identifier, email, sourceUpdatedAt: updated, data: raw };
}
