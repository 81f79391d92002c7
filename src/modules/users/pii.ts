// externalUserId is an anonymized, partner-scoped key: it must never carry personal data.
// The shapes refused are documented in the README's Semantics. A value is first brought to
// one plain form (what a person reading it would see: fullwidth or Arabic-Indic digits,
// en-dashes, %40, "(at)" ...), so that writing a value differently does not pass the guard.
// Plain digit strings stay allowed: anonymized numeric ids (zero-padded ones included) are
// common and cannot be told apart from an unformatted number.
import { PiiRejectedError, type PiiRule } from './errors.js';

export function assertNoPii(field: string, value: string): void {
  const rule = piiRule(value);
  if (rule) throw new PiiRejectedError(field, rule);
}

/** The rule a value breaks, or null. */
export function piiRule(value: string): PiiRule | null {
  const plain = normalise(value);
  if (hasEmail(plain)) return 'email';
  if (isPhone(plain)) return 'phone';
  if (hasNationalId(plain)) return 'national_id';
  return null;
}

// ---------------------------------------------------------------------------- normalising

const ENTITIES: Record<string, string> = {
  commat: '@',
  period: '.',
  plus: '+',
  hyphen: '-',
  dash: '-',
  nbsp: ' ',
  lpar: '(',
  rpar: ')',
};

/** Undoes percent-encoding and HTML character references (twice-encoded too). */
function decode(value: string): string {
  let current = value;
  for (let round = 0; round < 3; round++) {
    const next = current
      .replace(/%([0-9a-f]{2})((?:%[0-9a-f]{2})*)/gi, (whole) => {
        try {
          return decodeURIComponent(whole);
        } catch {
          // Not UTF-8: take the ASCII bytes one by one, leave the rest as written.
          return whole.replace(/%([0-7][0-9a-f])/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
        }
      })
      .replace(/&#(x[0-9a-f]{1,6}|\d{1,7});?/gi, (whole, code: string) => {
        const n = code[0] === 'x' || code[0] === 'X' ? parseInt(code.slice(1), 16) : Number(code);
        return n > 0 && n <= 0x10ffff && !(n >= 0xd800 && n <= 0xdfff) ? String.fromCodePoint(n) : whole;
      })
      .replace(/&([a-z]+);/gi, (whole, name: string) => ENTITIES[name.toLowerCase()] ?? whole);
    if (next === current) break;
    current = next;
  }
  return current;
}

/** Any script's decimal digit as its ASCII digit (NFKC leaves Arabic-Indic, Devanagari ... alone). */
function asciiDigits(value: string): string {
  return value.replace(/\p{Nd}/gu, (digit) => {
    // Unicode allocates each script's digits as a run of ten, 0 to 9.
    let zero = digit.codePointAt(0)!;
    while (/\p{Nd}/u.test(String.fromCodePoint(zero - 1))) zero--;
    return String((digit.codePointAt(0)! - zero) % 10);
  });
}

function normalise(value: string): string {
  let s = decode(value.normalize('NFKC')).normalize('NFKC');
  s = s.replace(/\p{Cf}/gu, ''); // zero-width spaces and joiners, soft hyphens, direction marks
  s = asciiDigits(s);
  s = s.replace(/[\p{Pd}\u2212]/gu, '-').replace(/\u3002/g, '.');
  return s.replace(/\s+/g, ' ').trim().toLowerCase();
}

// ---------------------------------------------------------------------------- e-mail

const AT_WRITTEN = /\s*[([{<]\s*(?:at|@)\s*[)\]}>]\s*/g;
const DOT_WRITTEN = /\s*[([{<]\s*(?:dot|\.)\s*[)\]}>]\s*/g;
const ADDRESS = /([^\s@]+)@(\[[^\]\s]+\]|[\p{L}\p{N}_-]+(?:\.[\p{L}\p{N}_-]+)*)/gu;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/**
 * Anything shaped like local@host, also without a dot in the host (user@localhost, an IP
 * literal); "at"/"dot" as words only where the result has a dotted host with a real TLD,
 * so that "meet at home" is not an address.
 */
function hasEmail(s: string): boolean {
  const marked = s
    .replace(AT_WRITTEN, '@')
    .replace(DOT_WRITTEN, '.')
    .replace(/\s*@[\s@]*/g, '@')
    .replace(/\s*\.\s*/g, '.');
  for (const [, local, host] of marked.matchAll(ADDRESS)) {
    if (/[\p{L}\p{N}]/u.test(local!) && (/\p{L}/u.test(host!) || IPV4.test(host!) || host!.startsWith('[')))
      return true;
  }
  const worded = marked.replace(/(?<=\S) (?:at|_at_) (?=\S)|_at_/g, '@').replace(/ dot |_dot_/g, '.');
  for (const [, local, host] of worded.matchAll(ADDRESS)) {
    if (/[\p{L}\p{N}]/u.test(local!) && /\.\p{L}{2,}$/u.test(host!)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------- phone

const PHONE_LABEL =
  /^(?:tel(?:ephone)?|phone|mobile|mob|cell(?:phone)?|fax|sms|callto)(?:\s*[:=#]\s*(?:\/\/)?|\s+|(?=\+))/;
// A tel: URI's parameters (;ext=, ;phone-context=, ...) or a written extension.
const EXTENSION = /\s*(?:;[a-z-]+=[^;]*)+$|\s*(?:,|;)?\s*(?:ext|extn|extension|x)\.?\s*:?\s*\d{1,6}$|\s*#\s*\d{1,6}$/;
const SEP = '[\\s.\\-/]';
// Written inside a longer value: the + form, or the North American form standing apart
// from other digits and separators ("id 555-123-4567", "learner-555-123-4567").
const INSIDE = [
  /(?:^|[\s:;,=(])\+\d(?:[\s.\-/()]{0,3}\d){6,14}(?!\d)/,
  /(?:(?<![\d.\-/])|(?<=\p{L}-))(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\d.\-/])/u,
];
const SEPARATED_DIGITS = /^[(]?\d(?:[\s.\-/()]{0,3}\d){6,14}$/;
const NANP = new RegExp(`^(?:1${SEP}?)?(?:\\(\\d{3}\\)${SEP}?\\d{3}${SEP}?\\d{4}|\\d{3}${SEP}\\d{3}${SEP}\\d{4})$`);
// A trunk prefix 0 and an area code, then groups (UK 020 7946 0958, FR 06 12 34 56 78, DE (030) 1234567).
const TRUNK = new RegExp(`^(?:\\(0\\d{1,4}\\)${SEP}?|0\\d{1,4}${SEP})\\d{2,8}(?:${SEP}\\d{2,8}){0,4}$`);

function isPhone(s: string): boolean {
  let candidate = s;
  const labelled = PHONE_LABEL.test(candidate);
  if (labelled) candidate = candidate.replace(PHONE_LABEL, '');
  candidate = candidate
    .replace(EXTENSION, '')
    .replace(/\s*\([\p{L} ]+\)$/u, '')
    .trim();
  if (INSIDE.some((pattern) => pattern.test(candidate))) return true;
  const digits = candidate.replace(/\D/g, '').length;
  // International: + (written or as 00 / 011 with separators after) and 7-15 digits.
  if (candidate.startsWith('+')) return SEPARATED_DIGITS.test(candidate.slice(1).trim());
  const exit = /^(?:00|011)(?=[1-9]|[\s.\-/(])/.exec(candidate);
  if (
    exit &&
    /[\s.\-/()]/.test(candidate) &&
    SEPARATED_DIGITS.test(candidate.slice(exit[0].length).replace(/^[\s.\-/]+/, ''))
  )
    return true;
  if (NANP.test(candidate)) return true;
  if (TRUNK.test(candidate) && digits >= 9 && digits <= 12) return true;
  // "tel:4155552671": the label says what the digits are.
  return labelled && SEPARATED_DIGITS.test(candidate);
}

// ---------------------------------------------------------------------------- national ids

const ID_LABEL = new RegExp(
  /^(?:ssn|sin|itin|nino|nin|ni|social security|national insurance)/.source +
    /(?:\s*(?:number|no\.?|num|#))?/.source +
    /(?:\s*[:=#.-]\s*|\s+|(?=\d)|(?=[a-z]{2}\d))/.source,
);
const D = '[\\s.\\-/]?';
// US SSN (3-2-4), anywhere in the value; with separators, as plain 9 digits are allowed.
const SSN = /(?<!\d)\d{3}[\s.\-/]\d{2}[\s.\-/]\d{4}(?!\d)/;
// Canadian SIN (3-3-3, one kind of separator), the whole value.
const SIN = /^\d{3}([\s.\-/])\d{3}\1\d{3}$/;
// UK National Insurance number: prefix letters (D, F, I, Q, U, V never; O never second),
// six digits, suffix A-D (optional only where a label says what it is).
const NINO = new RegExp(
  `(?<![a-z0-9])([a-ceghj-prtw-z][a-ceghj-npr-tw-z])${D}\\d{2}${D}\\d{2}${D}\\d{2}${D}([a-d])(?![a-z0-9])`,
);
const NINO_BARE = new RegExp(`^([a-ceghj-prtw-z][a-ceghj-npr-tw-z])${D}\\d{2}${D}\\d{2}${D}\\d{2}$`);
const NOT_NINO_PREFIX = new Set(['bg', 'gb', 'kn', 'nk', 'nt', 'tn', 'zz']);

function hasNationalId(s: string): boolean {
  if (SSN.test(s) || SIN.test(s)) return true;
  const nino = NINO.exec(s);
  if (nino && !NOT_NINO_PREFIX.has(nino[1]!)) return true;
  if (!ID_LABEL.test(s)) return false;
  const rest = s.replace(ID_LABEL, '').trim();
  const bare = NINO_BARE.exec(rest);
  const suffixed = NINO.exec(rest);
  return (
    /^\d{9}$/.test(rest) || SIN.test(rest) || [bare, suffixed].some((m) => m !== null && !NOT_NINO_PREFIX.has(m[1]!))
  );
}
