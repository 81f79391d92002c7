// JSON Merge Patch (RFC 7396): the RFC's own examples (appendix A), and the properties the
// services rely on (inputs untouched, null removes, arrays replace, odd keys stay data).
import { describe, expect, it } from 'vitest';
import { applyMergePatch } from '../../src/modules/users/merge-patch.js';

describe('applyMergePatch', () => {
  // RFC 7396, Appendix A: [original, patch, result]. Cases whose result is not an object are
  // left out: the services only patch objects with objects.
  const rfc: [unknown, Record<string, unknown>, unknown][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    // Not in the RFC's table, same rules: a missing or null target is an empty object.
    [null, { a: 1, b: null }, { a: 1 }],
    [undefined, { a: { b: 1 } }, { a: { b: 1 } }],
  ];
  it.each(rfc)('%j + %j', (target, patch, expected) => {
    expect(applyMergePatch(target, patch)).toEqual(expected);
  });

  it('leaves its inputs unchanged', () => {
    const target = { a: { b: 1, c: 2 }, d: [1] };
    const patch = { a: { b: null, e: { f: 1 } }, d: [2] };
    const before = JSON.stringify([target, patch]);
    const result = applyMergePatch(target, patch);
    expect(JSON.stringify([target, patch])).toBe(before);
    expect(result).toEqual({ a: { c: 2, e: { f: 1 } }, d: [2] });
    expect(result.a).not.toBe(target.a);
  });

  it('removing a missing key is a no-op', () => {
    expect(applyMergePatch({ a: 1 }, { z: null })).toEqual({ a: 1 });
  });

  it('keeps "__proto__" and friends as plain data, never as a prototype', () => {
    // JSON.parse makes "__proto__" an own key, as a parsed GraphQL/REST body does.
    const patch = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"x": 1}}');
    const result = applyMergePatch({ a: 1 }, patch);
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.parse(JSON.stringify(result))).toEqual(
      JSON.parse('{"a": 1, "__proto__": {"polluted": true}, "constructor": {"x": 1}}'),
    );
    const target = JSON.parse('{"__proto__": {"keep": 1, "drop": 2}}');
    const merged = applyMergePatch(target, JSON.parse('{"__proto__": {"drop": null}}'));
    expect(JSON.stringify(merged)).toBe('{"__proto__":{"keep":1}}');
    expect(JSON.stringify(applyMergePatch(target, JSON.parse('{"__proto__": null}')))).toBe('{}');
  });
});
