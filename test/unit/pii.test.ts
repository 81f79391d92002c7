// The PII guard on externalUserId: each documented shape is refused with its rule, and the
// anonymized ids partners really use pass.
import { describe, expect, it } from 'vitest';
import { PiiRejectedError } from '../../src/errors.js';
import { assertNoPii } from '../../src/modules/users/pii.js';

function ruleOf(value: string): string | null {
  try {
    assertNoPii('externalUserId', value);
    return null;
  } catch (error) {
    expect(error).toBeInstanceOf(PiiRejectedError);
    const e = error as PiiRejectedError;
    expect(e.field).toBe('externalUserId');
    expect(e.code).toBe('PII_REJECTED');
    return e.rule;
  }
}

describe('assertNoPii', () => {
  it.each([
    ['jane@example.com', 'email'],
    ['Jane.Doe+tag@sub.example.co.uk', 'email'],
    ['user:jane@example.org', 'email'],
    ['prefix jane@example.io suffix', 'email'],
    ['+14155552671', 'phone'],
    ['+44 20 7946 0958', 'phone'],
    ['+1 (555) 123-4567', 'phone'],
    ['+33.1.23.45.67.89', 'phone'],
    ['555-123-4567', 'phone'],
    ['(555) 123-4567', 'phone'],
    ['555.123.4567', 'phone'],
    ['555 123 4567', 'phone'],
    ['123-45-6789', 'national_id'],
    ['ssn 123-45-6789', 'national_id'],
    ['123 456 789', 'national_id'],
    ['123-456-789', 'national_id'],
    ['AB123456C', 'national_id'],
    ['ab 12 34 56 d', 'national_id'],
  ])('refuses %j (%s)', (value, rule) => {
    expect(ruleOf(value)).toBe(rule);
  });

  it.each([
    'a3f9c2e1-7b4d-4e2a-9c1f-0d8e6b5a4c3b',
    'user_8f14e45fceea167a5a36dedd4bea2543',
    '4155552671',
    '123456789',
    '12345',
    'learner-42',
    'ext-2024-001',
    'not@an-email',
    '@handle',
    '+123',
    'AB12',
    'partner:course:42',
  ])('accepts %j', (value) => {
    expect(ruleOf(value)).toBeNull();
  });

  it('names the rule and the field in its message', () => {
    expect(() => assertNoPii('externalUserId', '+14155552671')).toThrow(/externalUserId.*phone number/);
    expect(() => assertNoPii('externalUserId', 'a@b.com')).toThrow(/e-mail address/);
    expect(() => assertNoPii('externalUserId', '123-45-6789')).toThrow(/national id/);
  });
});
