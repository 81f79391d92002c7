// The guard's failures (credentials and rate limits), answered by every surface alike.
import { DomainError } from '../errors.js';

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
