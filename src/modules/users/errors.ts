// The users concept's own failures (the generic ones are src/errors.ts).
import { DomainError } from '../../errors.js';

export type PiiRule = 'email' | 'phone' | 'national_id';

const looksLike = (rule: PiiRule) =>
  rule === 'email' ? 'an e-mail address' : rule === 'phone' ? 'a phone number' : 'a national id';

export class PiiRejectedError extends DomainError {
  readonly code = 'PII_REJECTED';
  constructor(
    readonly field: string,
    readonly rule: PiiRule,
  ) {
    super(`${field} must not carry personal data: it looks like ${looksLike(rule)}`);
    this.name = 'PiiRejectedError';
  }
}
