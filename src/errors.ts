// Expected failures of the domain: the base class and the four generic kinds every module
// throws. A failure that belongs to one concept is that concept's (modules/<concept>/errors.ts:
// personal data in a key → users, a connected backend's verdicts → backends; the guard's →
// auth/errors.ts). Services throw these; the graph turns them into typed results (or coded
// GraphQL errors) and the HTTP layer into status codes (HTTP_STATUS in src/http.ts: a domain
// error knows nothing of HTTP). Anything else that escapes is unexpected and masked.

export abstract class DomainError extends Error {
  /** The kind of failure, stable for programs (UPPER_SNAKE, one per class). */
  abstract readonly code: string;
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
