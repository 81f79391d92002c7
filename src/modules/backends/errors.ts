// The backends concept's own failures. Validation, conflicts and refusals are the shared
// domain errors (src/errors.ts). A connected backend's verdicts on a write (SPEC §10.4) are
// domain errors a client reads; SecretsKeyError never reaches a client: it stops the server or
// the CLI with a message for the operator.
import type { Backend } from '@prisma/client';
import { DomainError } from '../../errors.js';

/**
 * SECRETS_KEY cannot serve the stored credentials: it is missing, or it is not the key they
 * were sealed with (or a sealed value was tampered with). Nothing decrypted is usable then,
 * so the server refuses to start rather than fail every sync later.
 */
export class SecretsKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretsKeyError';
  }
}

/**
 * A connected backend the write must go through could not be reached (down, too slow, its
 * circuit open, its credential refused, or answering something that is not its API): nothing
 * was changed, in the store or the backend (SPEC §10.4).
 */
export class BackendUnavailableError extends DomainError {
  readonly code = 'BACKEND_UNAVAILABLE';
  constructor(
    readonly backend: Backend,
    /**
     * Seconds until the backend may be asked again (its Retry-After, or the circuit's half-open
     * time); null: unknown.
     */
    readonly retryAfter: number | null,
    message: string,
  ) {
    super(message);
    this.name = 'BackendUnavailableError';
  }
}

/** A connected backend's API has no call for this operation (SPEC §10.4): nothing was changed. */
export class UnsupportedByBackendError extends DomainError {
  readonly code = 'UNSUPPORTED_BY_BACKEND';
  constructor(
    readonly backend: Backend,
    /** The operation refused, e.g. enableUser. */
    readonly operation: string,
    message: string,
  ) {
    super(message);
    this.name = 'UnsupportedByBackendError';
  }
}
