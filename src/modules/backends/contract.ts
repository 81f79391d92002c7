// The seams between the three parts of a connected backend (SPEC §10): the connector that
// speaks a backend's source API (src/connectors), the identities service that stores what it
// read and links it into users (src/modules/identities), and the sync runner that drives one
// from the other on the job queue (src/modules/sync). Types only: each side implements or
// consumes these, so the parts are built and tested on their own and still fit.
import type { BackendKind } from '@prisma/client';

/** What a backend's record is in the unified model. */
export type Entity = 'USER' | 'ACCOUNT' | 'CLIENT';

/**
 * The streams of SPEC §10.3: catalog users, messaging accounts, embed clients and users, and
 * learning accounts (not listable: known identities are re-read by id).
 */
export type StreamName = 'catalog.users' | 'messaging.accounts' | 'embed.clients' | 'embed.users' | 'learning.accounts';

/** One record as a backend sent it, with the few things linking and sync need lifted out. */
export interface SourceRecord {
  stream: StreamName;
  entity: Entity;
  /**
   * The backend's id: learning uuid, catalog integer id (as a string), messaging ULID, embed
   * identifier / client id.
   */
  nativeId: string;
  /** The backend's partner-scoped key where it has one: `external_user_id`, `email_address`, `identifier`. */
  key: string | null;
  /** For EMAIL linking: catalog `email_address`, an embed user's `metadata.email`; as sent (linking lower-cases). */
  email: string | null;
  /** The backend's own last-change time, when it sends one. */
  sourceUpdatedAt: Date | null;
  /** The record exactly as the backend sent it (JSON). */
  data: Record<string, unknown>;
}

/** A record the connector could not make sense of: skipped and counted, never fatal. */
export interface RecordError {
  nativeId: string | null;
  reason: string;
}

/** Opaque, JSON-serialisable position in a stream; stored on the SyncRun after each page. */
export type Checkpoint = Record<string, unknown>;

export interface Page {
  records: SourceRecord[];
  errors: RecordError[];
  /** Where the next page starts; null after the last page. */
  next: Checkpoint | null;
  /** HTTP requests this page cost (retries included). */
  requests: number;
  /**
   * The backend's own count of the stream's records (catalog X-Total-Count, messaging
   * page_info.total, embed total) differs from what it said on this read's first page:
   * records were added or removed while paging, so an offset-paged read may have skipped some.
   * A full pass that saw drift must not mark unseen identities GONE (SPEC §10.7 "Order").
   * Absent: no drift seen (or the backend sends no count).
   */
  drift?: boolean;
}

export interface ReadOptions {
  /** A full pass (every record) or an incremental one (changes since `since`). */
  full: boolean;
  /** Incremental runs: the previous successful run's start (the connector applies its overlap window). */
  since: Date | null;
  signal?: AbortSignal;
}

/** The state a connector's circuit breaker reports, as Backend.status values. */
export type ConnectorHealth = 'HEALTHY' | 'DEGRADED' | 'FAILING';

export interface Connector {
  readonly kind: BackendKind;
  /** The streams this kind can list (learning: none; it is re-read by id). */
  readonly streams: readonly StreamName[];
  /** Pages of one stream from a checkpoint (null: from the start). Resumable: pass a page's `next`. */
  readPages(stream: StreamName, from: Checkpoint | null, options: ReadOptions): AsyncIterable<Page>;
  /** Re-reads one record by native id; 'GONE' when the backend answers 404. */
  readOne(stream: StreamName, nativeId: string, signal?: AbortSignal): Promise<SourceRecord | 'GONE'>;
  health(): ConnectorHealth;
  /**
   * Errors a run reports: BackendUnavailable (down, timeout, circuit open), BackendRefused
   * (401/403), BackendProtocolError (garbage).
   */
}

/** The backend a sync works for, as the identities service needs it. */
export interface BackendRef {
  id: string;
  partnerId: string;
  kind: BackendKind;
  linkBy: readonly ('KEY' | 'EMAIL')[];
}

/** What the identities service offers the sync runner (implemented in src/modules/identities). */
export interface IdentitySink {
  /**
   * Stores one page's records as identities of the backend, in one transaction, marking each
   * seen by `runId`. Idempotent: the same page twice changes nothing the second time. New
   * identities wait for `linkPending`; changed data of linked ones reaches their user at once.
   */
  upsertPage(
    backend: BackendRef,
    records: SourceRecord[],
    runId: string,
  ): Promise<{ created: number; updated: number }>;
  /** After a complete full pass of a stream: its identities not seen by `runId` become GONE. */
  markUnseenGone(backend: BackendRef, stream: StreamName, runId: string): Promise<number>;
  /**
   * After a complete full pass: native ids of the stream's identities (LINKED or PENDING) that
   * `runId` did not see, at most `limit`. The runner asks the backend for each by id before
   * marking it GONE, as a paged read may miss a record while the list shifts (SPEC §10.7).
   */
  unseenNativeIds(backend: BackendRef, stream: StreamName, runId: string, limit: number): Promise<string[]>;
  /** One identity the backend answered 404 for becomes GONE. */
  markGone(backend: BackendRef, stream: StreamName, nativeId: string): Promise<boolean>;
  /** Native ids of the backend's known identities of a stream, for streams re-read by id (learning). */
  knownNativeIds(backend: BackendRef, stream: StreamName): AsyncIterable<string[]>;
  /**
   * Links every not-yet-linked identity of the partner by the backend's `linkBy` rules, in one
   * canonical order, so the same data gives the same users whatever order it arrived in.
   */
  linkPending(backend: BackendRef): Promise<{ linked: number; newUsers: number; conflicts: number }>;
}

/**
 * The source API calls of SPEC §10.4's mapping, one per operation; each connector carries
 * out those of its kind (another kind's is a programming error).
 */
export type WriteOperation =
  /** learning POST /accounts */
  | { op: 'learning.createAccount'; externalUserId: string }
  /** learning DELETE /accounts/{id} (disables) */
  | { op: 'learning.disableAccount'; nativeId: string }
  /** catalog POST /api/v1/users */
  | { op: 'catalog.createUser'; fields: CatalogUserFields & { user_name: string; email_address: string } }
  /** catalog PUT /api/v1/users/{id} (`clear_merged_into_user_id: true` clears the merge pointer: unmergeUser) */
  | { op: 'catalog.updateUser'; nativeId: string; fields: CatalogUserFields & { clear_merged_into_user_id?: true } }
  /** catalog DELETE /api/v1/users/{id}; `onlyOrdersAndEnrollments`: only_orders_and_enrollments=true */
  | { op: 'catalog.deleteUser'; nativeId: string; onlyOrdersAndEnrollments?: boolean }
  /** messaging POST /api/v1/accounts (a sub-account of the credential's account) */
  | { op: 'messaging.createAccount'; name: string }
  /** embed PUT /v1/headless/user/{identifier} (creates, or merges metadata: null removes a key) */
  | {
      op: 'embed.putUser';
      identifier: string;
      fields: { clientIdentifier?: string | null; metadata?: Record<string, unknown> };
    }
  /** embed PUT /v1/headless/client/{identifier} (creates or replaces) */
  | { op: 'embed.putClient'; identifier: string; metadata: Record<string, unknown> }
  /**
   * embed DELETE /v1/headless/user/{identifier}?clientIdentifier=&action=&reallocateTo=
   * (reallocateTo: the receiver's embed identifier)
   */
  | {
      op: 'embed.deleteUser';
      identifier: string;
      clientIdentifier?: string;
      action: 'reallocate' | 'delete' | 'ignore';
      reallocateTo?: string;
    }
  /** embed DELETE /v1/headless/client/{identifier} (cascades to its users and their courses) */
  | { op: 'embed.deleteClient'; identifier: string };

export interface CatalogUserFields {
  user_name?: string;
  email_address?: string;
  first_name?: string | null;
  last_name?: string | null;
  custom_fields?: Record<string, unknown> | null;
  time_zone?: string | null;
  locale?: string | null;
}

/** What the backend said to a write: its record of the result, or its refusal. */
export type WriteOutcome =
  /** Accepted; `record` is the backend's record as it answered (null: it answered none, e.g. a 204 DELETE). */
  | { ok: true; record: SourceRecord | null; requests: number }
  | {
      ok: false;
      /**
       * conflict: a duplicate key (learning 422 Duplicate, catalog 409); invalid: refused input;
       * missing: 404; unsupported: 405/501.
       */
      refusal: 'conflict' | 'invalid' | 'missing' | 'unsupported';
      status: number;
      /** The backend's message, a short cleaned excerpt. */
      message: string;
      requests: number;
    };

/** The writes of a connector (SPEC §10.4): same transport and policies as its reads. */
export interface ConnectorWrites {
  write(operation: WriteOperation, signal?: AbortSignal): Promise<WriteOutcome>;
}
