// externalUserId is an anonymized, partner-scoped key: it must never carry personal data.
// These shapes are rejected (documented in the README's Semantics). Plain digit strings are
// allowed: anonymized numeric ids are common and indistinguishable from an unformatted number.
import { PiiRejectedError, type PiiRule } from '../../errors.js';

const RULES: [PiiRule, RegExp][] = [
  ['email', /[^\s@]+@[^\s@]+\.[^\s@]{2,}/],
  // International format (+ then 7-15 digits, separators allowed) or a separated local number.
  ["phone", /^\+\s?\d(?:[\s().-]{0,2}\d){6,14}$/],
  ['phone', /^\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}$/],
  // US SSN, Canadian SIN (separated), UK National Insurance number.
  ['national_id', /(?:^|\D)\d{3}-\d{2}-\d{4}(?:\D|$)/],
  ['national_id', /^\d{3}[\s-]\d{3}[\s-]\d{3}$/],
  ['national_id', /^[A-CEGHJ-PR-TW-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]$/i],
];

export function assertNoPii(field: string, value: string): void {
  for (const [rule, pattern] of RULES) {
    if (pattern.test(value)) throw new PiiRejectedError(field, rule);
  }
}
