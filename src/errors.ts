// Expected failures of the domain. Services throw these; the graph turns them into typed
// results (or coded GraphQL errors) and the HTTP layer into status codes (HTTP_STATUS in
// src/http.ts: a domain error knows nothing of HTTP). Anything
// else that escapes is unexpected and masked.

import type { Backend } from '@prisma/client';

export type ErrorCode =
  | 'NOT_FOUND'
  | 'VALIDATION'
  | 'CONFLICT'
  | 'FORBIDDEN'
  | 'PII_REJECTED'
  | 'UNAUTHENTICATED'
  | 'RATE_LIMITED'
  | 'BACKEND_UNAVAILABLE'
  | 'UNSUPPORTED_BY_BACKEND';

export abstract class DomainError extends Error {
  abstract readonly code: ErrorCode;
}

export class NotFoundError extends DomainError {
  readonly code = 'NOT_FOUND';
  constructor(
    readonly entity: string,
    readonly ref?: string,
  ) {
    super(ref === undefined ? `${entity} not found` : `${entity} ${ref} not found`);
    this.name = 'NotFoundError';
  }
}

export interface FieldIssue {
  readonly field: string;
  readonly message: string;
}

export class ValidationError extends DomainError {
  readonly code = 'VALIDATION';
  readonly issues: readonly FieldIssue[];
  constructor(issues: FieldIssue[] | string, field = 'input') {
    const list = typeof issues === 'string' ? [{ field, message: issues }] : issues;
    super(list.map((i) => `${i.field}: ${i.message}`).join('; '));
    this.issues = list;
    this.name = 'ValidationError';
  }
}

export class ConflictError extends DomainError {
  readonly code = 'CONFLICT';
  /** The id of the row that already holds the key, when the caller may know it. */
  constructor(
    message: string,
    readonly field?: string,
    readonly existingId?: string,
  ) {
    super(message);
    this.name = 'ConflictError';
  }
}

export class ForbiddenError extends DomainError {
  readonly code = 'FORBIDDEN';
  constructor(message = 'not allowed') {
    super(message);
    this.name = 'ForbiddenError';
  }
}

export type PiiRule = 'email' | 'phone' | 'national_id';

export class PiiRejectedError extends DomainError {
  readonly code = 'PII_REJECTED';
  constructor(
    readonly field: string,
    readonly rule: PiiRule,
  ) {
    super(
      `${field} must not carry personal data: it looks like ${rule === 'email' ? 'an e-mail address' : rule === 'phone' ? 'a phone number' : 'a national id'}`,
    );
    this.name = 'PiiRejectedError';
  }
}

export class UnauthenticatedError extends DomainError {
  readonly code = 'UNAUTHENTICATED';
  constructor(message = 'missing or invalid credentials') {
    super(message);
    this.name = 'UnauthenticatedError';
  }
}

export class RateLimitedError extends DomainError {
  readonly code = 'RATE_LIMITED';
  constructor(readonly retryAfterSeconds: number) {
    super(`rate limit exceeded; retry in ${retryAfterSeconds}s`);
    this.name = 'RateLimitedError';
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
    /** Seconds until the backend may be asked again (its Retry-After, or the circuit's half-open time); null: unknown. */
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
