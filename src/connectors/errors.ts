// What a connector throws when a run cannot go on (SPEC §10.3): the backend cannot be reached,
// it refuses the credential, or it answers something that is not its API. Bad single records
// are not errors: they are a page's RecordErrors. Messages are for Backend.lastError and
// SyncRun errors, so they name the backend's kind and what happened, never the credential,
// and never a body the backend sent beyond a short, cleaned excerpt.
import type { BackendKind } from '@prisma/client';

export abstract class BackendError extends Error {
  abstract readonly code: 'BACKEND_UNAVAILABLE' | 'BACKEND_REFUSED' | 'BACKEND_PROTOCOL';
  constructor(
    readonly kind: BackendKind,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Down, unreachable, too slow, answering 429/5xx after every retry, or its circuit open. */
export class BackendUnavailableError extends BackendError {
  readonly code = 'BACKEND_UNAVAILABLE' as const;
  constructor(
    kind: BackendKind,
    message: string,
    /** When the backend may be asked again (its Retry-After, or the circuit's half-open time); null: unknown. */
    readonly retryAfter: Date | null = null,
    readonly reason: 'connection' | 'timeout' | 'status' | 'circuit_open' | 'retry_after' = 'connection',
  ) {
    super(kind, message);
  }
}

/** 401 or 403: the stored credential is not (or no longer) accepted. Not retried. */
export class BackendRefusedError extends BackendError {
  readonly code = 'BACKEND_REFUSED' as const;
  constructor(
    kind: BackendKind,
    message: string,
    readonly status: number,
  ) {
    super(kind, message);
  }
}

/** The backend answered, but not in its API: HTML, a wrong envelope, a body too big, endless pages. */
export class BackendProtocolError extends BackendError {
  readonly code = 'BACKEND_PROTOCOL' as const;
}

/** A short, printable excerpt of something a backend sent, for an error message. */
export function excerpt(text: string, max = 120): string {
  // eslint-disable-next-line no-control-regex
  const clean = text
    .replace(/\p{Cc}+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
