// The learning platform's partner Accounts API (SPEC §7.1, §10.1): bearer key. It cannot list
// accounts: known ones are re-read by id (GET /accounts/{account_id}; 404 is GONE), new ones
// arrive through writes, the proxy and ensureUser.
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
import { BaseConnector, idOf, isObject, isProblem, optionalString } from './base.js';
import type { paths } from './generated/learning.js';

export class LearningConnector extends BaseConnector<paths> implements ConnectorWrites {
  readonly kind = 'LEARNING' as const;
  readonly streams = [] as const;

  /** The API cannot list accounts: this always throws (the sync re-reads known ones with readOne). */
  readPages(stream: StreamName, _from: Checkpoint | null, _options: ReadOptions): AsyncIterable<Page> {
    this.assertStream(stream, true);
    return { [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true, value: undefined }) }) };
  }

  protected override readableStreams(): readonly StreamName[] {
    return ['learning.accounts'];
  }

  async readOne(stream: StreamName, nativeId: string, signal?: AbortSignal): Promise<SourceRecord | 'GONE'> {
    this.assertStream(stream, false);
    this.assertId(nativeId);
    const { data, response } = await this.call(signal, (fetch) =>
      this.client.GET('/accounts/{account_id}', { params: { path: { account_id: nativeId } }, fetch, signal }),
    );
    if (response.status === 404) return 'GONE';
    const result = learningAccount(data);
    if ('reason' in result)
      throw this.protocol(
        `GET /accounts/${nativeId.slice(0, 40)} answered an account that is not one: ${result.reason}`,
      );
    if (result.nativeId !== nativeId)
      throw this.protocol(`GET /accounts/${nativeId.slice(0, 40)} answered another account`);
    return result;
  }

  /** POST /accounts (a duplicate, also of a disabled account: 422), DELETE /accounts/{id} (disables). */
  async write(operation: WriteOperation, signal?: AbortSignal): Promise<WriteOutcome> {
    if (operation.op === 'learning.createAccount') {
      const { data, error, response, requests } = await this.call(signal, (fetch) =>
        this.client.POST('/accounts', { body: { external_user_id: operation.externalUserId }, fetch, signal }),
      );
      if (!response.ok) return this.refusal(response, error, requests);
      return this.accepted('POST /accounts', learningAccount(data), requests);
    }
    if (operation.op === 'learning.disableAccount') {
      this.assertId(operation.nativeId);
      const { error, response, requests } = await this.call(signal, (fetch) =>
        this.client.DELETE('/accounts/{account_id}', {
          params: { path: { account_id: operation.nativeId } },
          fetch,
          signal,
        }),
      );
      if (!response.ok) return this.refusal(response, error, requests);
      return { ok: true, record: null, requests };
    }
    return this.foreign(operation);
  }
}

export function learningAccount(raw: unknown): SourceRecord | RecordError {
  if (!isObject(raw)) return { nativeId: null, reason: 'an account is not an object' };
  if (typeof raw.id !== 'string' || raw.id === '') return { nativeId: idOf(raw.id), reason: 'id is not a string' };
  const key = optionalString(raw.external_user_id, 'external_user_id');
  if (isProblem(key)) return { nativeId: raw.id, reason: key.reason };
  if (raw.entitlements !== undefined && !Array.isArray(raw.entitlements))
    return { nativeId: raw.id, reason: 'entitlements is not a list' };
  return {
    stream: 'learning.accounts',
    entity: 'USER',
    nativeId: raw.id,
    key,
    email: null,
    sourceUpdatedAt: null,
    data: raw,
  };
}
