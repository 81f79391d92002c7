// The PII guard on externalUserId: a broad corpus of personal data however it is written
// (other scripts, fullwidth forms, encodings, obfuscations, labels, extensions) is refused
// with its rule, and the anonymized ids partners really use pass.
import { describe, expect, it } from 'vitest';
import { PiiRejectedError } from '../../src/modules/users/errors.js';
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

const EMAILS = [
  'jane@example.com',
  'Jane.Doe+tag@sub.example.co.uk',
  'user:jane@example.org',
  'prefix jane@example.io suffix',
  'mailto:jane@example.com',
  'JANE@EXAMPLE.COM',
  'jane＠example.com', // fullwidth @
  'jane﹫example.com', // small commercial at
  'ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ', // all fullwidth
  'jane@example。com', // ideographic full stop
  'jane @ example.com',
  'jane  @example.com',
  'jane@ example . com',
  'jane(at)example.com',
  'jane (at) example (dot) com',
  'jane[at]example[dot]com',
  'jane{at}example.com',
  'jane<at>example.com',
  'jane (AT) example.com',
  'jane(@)example.com',
  'jane at example dot com',
  'jane AT example DOT com',
  'jane at example.com',
  'jane_at_example.com',
  'jane%40example.com',
  'jane%2540example.com', // encoded twice
  'jane&#64;example.com',
  'jane&#x40;example.com',
  'jane&commat;example.com',
  'jane\u200b@\u200bexample.com', // zero-width spaces
  'jane\u00ad@example.com', // soft hyphen
  'user@localhost',
  'root@127.0.0.1',
  'user@[192.168.0.1]',
  'jöran@exämple.de',
  'иван@пример.рф',
  '"jane doe"@example.com',
  'a@b',
  'jane@@example.com',
];

const PHONES = [
  '+14155552671',
  '+44 20 7946 0958',
  '+1 (555) 123-4567',
  '+33.1.23.45.67.89',
  '+44 (0)20 7946 0958',
  '+49 30 1234567',
  '+ 1 415 555 2671',
  '+91-98765-43210',
  '555-123-4567',
  '(555) 123-4567',
  '(555)123-4567',
  '555.123.4567',
  '555 123 4567',
  '1-800-555-0199',
  '555–123–4567', // en-dashes
  '555—123—4567', // em-dashes
  '555\u2212123\u22124567', // minus signs
  '555\u2011123\u20114567', // non-breaking hyphens
  '555\u00a0123\u00a04567', // no-break spaces
  '＋１ ４１５ ５５５ ２６７１', // fullwidth
  '٠٥٥٥-١٢٣-٤٥٦٧', // Arabic-Indic digits
  '+٤٤ ٢٠ ٧٩٤٦ ٠٩٥٨',
  '+۹۸ ۹۱۲ ۳۴۵ ۶۷۸۹', // Persian digits
  '+९१ ९८७६५ ४३२१०', // Devanagari digits
  '0044 20 7946 0958',
  '0044-20-7946-0958',
  '011 44 20 7946 0958',
  '020 7946 0958',
  '07700 900123',
  '06 12 34 56 78',
  '(030) 1234567',
  '0412 345 678',
  'tel:+14155552671',
  'tel:+1-415-555-2671',
  'TEL:4155552671',
  'tel:+1-415-555-2671;ext=123',
  'callto://+14155552671',
  'phone: 415 555 2671',
  '%2B14155552671',
  '555-123-4567 x89',
  '555-123-4567 ext. 1234',
  '+1 415 555 2671 ext 12',
  '(555) 123-4567 #12',
  '+44 20 7946 0958 (home)',
  'call me on +44 20 7946 0958',
  'id 555-123-4567',
  'learner-555-123-4567',
];

const NATIONAL_IDS = [
  '123-45-6789',
  'ssn 123-45-6789',
  '123 45 6789',
  '123.45.6789',
  '123–45–6789',
  '１２３-４５-６７８９',
  '١٢٣-٤٥-٦٧٨٩',
  'ssn:123456789',
  'SSN 123456789',
  '123 456 789',
  '123-456-789',
  '123.456.789',
  'sin:123456789',
  'AB123456C',
  'ab 12 34 56 d',
  'AB-12-34-56-C',
  'ab.12.34.56.c',
  'nino:AB123456C',
  'NINO: AB 12 34 56 C',
  'nino:AB123456',
  'ni-no AB123456C',
  'national insurance AB123456',
  'user_ab123456c',
];

const ANONYMIZED = [
  'a3f9c2e1-7b4d-4e2a-9c1f-0d8e6b5a4c3b', // uuid v4
  '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', // uuid v7
  'A3F9C2E1-7B4D-4E2A-9C1F-0D8E6B5A4C3B',
  'a3f9c2e17b4d4e2a9c1f0d8e6b5a4c3b', // uuid without dashes / md5
  '01ARZ3NDEKTSV4RRFFQ69G5FAV', // ulid
  '01HZX3K4M5N6P7Q8R9S0T1V2W3',
  'da39a3ee5e6b4b0d3255bfef95601890afd80709', // sha-1
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', // sha-256
  '12345678901234567890123456789012', // 32 digits of hex that happen to be decimal
  'mB3T9xk_QaW-2LfP0nZr8g', // base64url
  'V1StGXR8_Z5jdHi6B-myT', // nanoid
  'dXNlcjo0MjpwYXJ0bmVy', // base64
  'user_8f14e45fceea167a5a36dedd4bea2543',
  'user_84213',
  '12345',
  '123456789',
  '4155552671',
  '0012345678', // zero-padded
  '00442079460958', // plain digits stay allowed, whatever they might be
  '20240115123045',
  'learner-42',
  'ext-2024-001',
  'EMP-004512',
  'student-2019-04512',
  '2024-000123',
  '2024-01-15',
  '1234-5678-9012',
  '1.2.840.113549',
  'v1.2.3',
  'auth0|5f7c8ec7c33c6c004bbafe82',
  'google-oauth2|110169484474386276334',
  'S-1-5-21-3623811015-3361044348-30300820-1013',
  'acct_1032D82eZvKYlo2C',
  'cus_NffrFeUfNV2Hib',
  'urn:uuid:a3f9c2e1-7b4d-4e2a-9c1f-0d8e6b5a4c3b',
  'partner:course:42',
  '@handle',
  'handle@',
  '+123',
  'AB12',
  'AB123456', // two letters and six digits: a NI number only with its suffix or a label
  'QQ123456C', // QQ is no NI prefix
  'meet at home',
  'single-sign-on-42',
  'box-12',
];

describe('assertNoPii', () => {
  it.each(EMAILS)('refuses the e-mail address %j', (value) => expect(ruleOf(value)).toBe('email'));
  it.each(PHONES)('refuses the phone number %j', (value) => expect(ruleOf(value)).toBe('phone'));
  it.each(NATIONAL_IDS)('refuses the national id %j', (value) => expect(ruleOf(value)).toBe('national_id'));
  it.each(ANONYMIZED)('accepts %j', (value) => expect(ruleOf(value)).toBeNull());

  it('holds a corpus broad enough to mean something', () => {
    expect(EMAILS.length + PHONES.length + NATIONAL_IDS.length).toBeGreaterThanOrEqual(100);
    expect(ANONYMIZED.length).toBeGreaterThanOrEqual(40);
  });

  it('names the rule and the field in its message', () => {
    expect(() => assertNoPii('externalUserId', '+14155552671')).toThrow(/externalUserId.*phone number/);
    expect(() => assertNoPii('externalUserId', 'a@b.com')).toThrow(/e-mail address/);
    expect(() => assertNoPii('externalUserId', '123-45-6789')).toThrow(/national id/);
  });

  it('stays fast on hostile values', () => {
    const started = performance.now();
    for (const value of [
      '@'.repeat(255),
      '1 '.repeat(127),
      '%'.repeat(255),
      '&#'.repeat(127),
      `${'a'.repeat(250)}@b`,
      '(at)'.repeat(63),
    ])
      ruleOf(value);
    expect(performance.now() - started).toBeLessThan(200);
  });
});
