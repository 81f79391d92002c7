// What the four connectors share: the typed openapi-fetch client over the backend's Transport,
// a call that counts its requests, page bookkeeping (a cap, so that a backend sending pages
// without end fails the read), and the checks that turn one wire record into a SourceRecord
// or a RecordError (a bad record is skipped and counted, never fatal).
import createClient, { type Client } from 'openapi-fetch';
import type { BackendKind } from '@prisma/client';
import type {
  Checkpoint,
  Connector,
  ConnectorHealth,
  Page,
  ReadOptions,
  WriteOperation,
  WriteOutcome,
  RecordError,
  SourceRecord,
  StreamName,
} from '../modules/backends/contract.js';
import { BackendProtocolError, excerpt } from './errors.js';
import type { CallCounter, Transport } from './transport.js';

export type Json = Record<string, unknown>;

export const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export abstract class BaseConnector<Paths extends {}> implements Connector {
  abstract readonly kind: BackendKind;
  abstract readonly streams: readonly StreamName[];
  protected readonly client: Client<Paths>;

  constructor(
    protected readonly transport: Transport,
    baseUrl: string,
  ) {
    this.client = createClient<Paths>({ baseUrl: baseUrl.replace(/\/+$/, '') });
  }

  abstract readPages(stream: StreamName, from: Checkpoint | null, options: ReadOptions): AsyncIterable<Page>;
  abstract readOne(stream: StreamName, nativeId: string, signal?: AbortSignal): Promise<SourceRecord | 'GONE'>;

  health(): ConnectorHealth {
    return this.transport.health();
  }

  /** One typed call; `fetch` goes through the backend's policies and counts into the result's `requests`. */
  protected async call<R extends { response: Response }>(
    signal: AbortSignal | undefined,
    send: (fetch: (request: Request) => Promise<Response>) => Promise<R>,
  ) {
    const counter: CallCounter = { requests: 0 };
    const result = await send(this.transport.fetcher(counter, signal));
    return { ...result, requests: counter.requests };
  }

  /**
   * A write the backend refused, as its verdict: 409, or a 422 saying duplicate/taken, is a
   * conflict; 400 and other 422s invalid input; 404/410 missing; 405/501 an unsupported call.
   */
  protected refusal(response: Response, body: unknown, requests: number): WriteOutcome {
    const { status } = response;
    const message = excerpt(errorText(body) ?? `answered ${status}`);
    const refusal =
      status === 409 || (status === 422 && /duplicate|already|taken|exists/i.test(message))
        ? 'conflict'
        : status === 404 || status === 410
          ? 'missing'
          : status === 405 || status === 501
            ? 'unsupported'
            : 'invalid';
    return { ok: false, refusal, status, message, requests };
  }

  /** A record the backend answered a write with, or a protocol error naming the call. */
  protected accepted(call: string, result: SourceRecord | RecordError, requests: number): WriteOutcome {
    if ('reason' in result) throw this.protocol(`${call} answered a record that is not one: ${result.reason}`);
    return { ok: true, record: result, requests };
  }

  /** An operation of another kind: a programming error, never sent. */
  protected foreign(operation: WriteOperation): never {
    throw new Error(`the ${this.kind} connector cannot carry out ${operation.op}`);
  }

  protected what(): string {
    return `${this.kind.toLowerCase()} backend`;
  }

  protected protocol(message: string): BackendProtocolError {
    return new BackendProtocolError(this.kind, `${this.what()}: ${message}`);
  }

  /** A native id that a URL path can carry as one segment ('.' and '..' would be resolved away). */
  protected assertId(nativeId: string): void {
    if (nativeId === '' || nativeId === '.' || nativeId === '..' || nativeId.length > 255) {
      throw new Error(
        `${JSON.stringify(nativeId.slice(0, 40))} cannot name a record of the ` +
          `${this.kind.toLowerCase()} backend in a URL`,
      );
    }
  }

  protected assertStream(stream: StreamName, listing: boolean): void {
    const known = listing ? this.streams : this.readableStreams();
    if (!known.includes(stream)) {
      const hint = listing && this.readableStreams().includes(stream) ? ': re-read known records with readOne' : '';
      throw new Error(`${this.kind} connector cannot ${listing ? 'list' : 'read'} ${stream}${hint}`);
    }
  }

  /** Streams readOne serves (the listable ones, and learning's). */
  protected readableStreams(): readonly StreamName[] {
    return this.streams;
  }

  /** Counts pages of one read; past the cap the backend is sending pages without end. */
  protected pageCap(): () => void {
    let pages = 0;
    const max = this.transport.options.maxPages;
    return () => {
      if (++pages > max)
        throw this.protocol(`more than ${max} pages in one read: the backend keeps sending pages (endless paging?)`);
    };
  }

  /** A read's records without those an earlier page of the same read already gave (by native id). */
  protected dedupe(seen: Set<string>, records: SourceRecord[]): SourceRecord[] {
    const fresh = records.filter((r) => !seen.has(r.nativeId));
    for (const record of fresh) seen.add(record.nativeId);
    return fresh;
  }

  /**
   * A page; `next` also carries the read's drift state (the first page's total, whether it
   * changed), so a resumed read keeps comparing against the same count.
   */
  protected page(
    records: SourceRecord[],
    errors: RecordError[],
    next: Checkpoint | null,
    requests: number,
    drift: Drift,
  ): Page {
    return {
      records,
      errors,
      next: next && { ...next, ...drift.checkpoint() },
      requests,
      ...(drift.seen ? { drift: true } : {}),
    };
  }
}

/** Whether the backend's count of a stream changed during one read (Page.drift); sticky once seen. */
export class Drift {
  private first: number | null;
  seen: boolean;

  constructor(from: Checkpoint | null) {
    this.first = Number.isSafeInteger(from?.total) ? (from!.total as number) : null;
    this.seen = from?.drift === true;
  }

  /** The count a page reports (null: the backend sent none). */
  observe(total: number | null): void {
    if (total === null || !Number.isSafeInteger(total)) return;
    if (this.first === null) this.first = total;
    else if (total !== this.first) this.seen = true;
  }

  checkpoint(): Checkpoint {
    return { ...(this.first !== null ? { total: this.first } : {}), ...(this.seen ? { drift: true } : {}) };
  }
}

/** Splits a page's raw items into records and record errors. */
export function parseItems(
  items: unknown[],
  parse: (item: unknown) => SourceRecord | RecordError,
): { records: SourceRecord[]; errors: RecordError[] } {
  const records: SourceRecord[] = [];
  const errors: RecordError[] = [];
  for (const item of items) {
    const result = parse(item);
    if ('reason' in result) errors.push(result);
    else records.push(result);
  }
  return { records, errors };
}

/** A timestamp field: a Date, null when absent, or the reason it is unreadable. */
export function timestamp(value: unknown, field: string): Date | null | { reason: string } {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') return { reason: `${field} is not a date-time string` };
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? { reason: `${field} is not a date-time` } : at;
}

/** An optional string field: the string, null, or the reason it is not one. */
export function optionalString(value: unknown, field: string): string | null | { reason: string } {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : { reason: `${field} is not a string` };
}

/** Is a field check's answer the reason it failed? */
export const isProblem = (value: unknown): value is { reason: string } =>
  isObject(value) && typeof value.reason === 'string';

export const idOf = (value: unknown): string | null =>
  typeof value === 'string' && value.length <= 200 ? value : typeof value === 'number' ? String(value) : null;

/** A non-negative integer from a checkpoint, or the default when it has none. */
export function checkpointInt(from: Checkpoint | null, field: string, fallback: number, min: number): number {
  const value = from?.[field];
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || (value as number) < min)
    throw new Error(`checkpoint ${field} must be an integer ≥ ${min}`);
  return value as number;
}

/**
 * The message of a dialect's error body ({"error_message"}, {"errors":[{message}]},
 * {"error":{message}}, {"data":{message}}, {"message"}).
 */
export function errorText(body: unknown): string | null {
  if (!isObject(body)) return null;
  const errors = Array.isArray(body.errors) && isObject(body.errors[0]) ? body.errors[0] : undefined;
  const candidates = [
    body.error_message,
    errors?.message,
    isObject(body.error) ? body.error.message : body.error,
    isObject(body.data) ? body.data.message : undefined,
    body.message,
  ];
  const found = candidates.find((c) => typeof c === 'string');
  return typeof found === 'string' ? found : null;
}
