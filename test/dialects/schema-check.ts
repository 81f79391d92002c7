// Checks JSON values against the schemas of the dialects' OpenAPI documents: the subset of JSON
// Schema those documents use ($ref, type, properties, required, additionalProperties, items,
// enum, const, oneOf, anyOf, allOf, pattern, format, length and range bounds). `strict` also
// refuses object properties a schema does not name (unless it allows additional ones), so an
// answer cannot carry fields its document leaves out.

export type Schema = Record<string, any>;

export interface CheckOptions {
  strict?: boolean;
}

const FORMATS: Record<string, RegExp> = {
  'date-time': /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/,
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  email: /^[^@\s]+@[^@\s]+\.[^@\s]+$/,
};

/** The problems of `value` against `schema` ([] when it conforms), each naming its path. */
export function check(
  doc: { components: { schemas: Record<string, Schema> } },
  schema: Schema,
  value: unknown,
  options: CheckOptions = {},
): string[] {
  const resolve = (s: Schema): Schema => {
    let current = s;
    for (let hops = 0; current.$ref; hops++) {
      if (hops > 10) throw new Error(`$ref loop at ${s.$ref}`);
      const name = /^#\/components\/schemas\/(\w+)$/.exec(current.$ref)?.[1];
      const target = name && doc.components.schemas[name];
      if (!target) throw new Error(`unresolvable $ref ${current.$ref}`);
      current = target;
    }
    return current;
  };

  /** Property names a schema (with its allOf members) declares; null when any are allowed. */
  const known = (s: Schema): Set<string> | null => {
    const r = resolve(s);
    if (r.additionalProperties !== undefined && r.additionalProperties !== false) return null;
    const names = new Set(Object.keys(r.properties ?? {}));
    for (const member of r.allOf ?? []) {
      const more = known(member);
      if (more === null) return null;
      for (const name of more) names.add(name);
    }
    return names;
  };

  const visit = (s: Schema, v: unknown, path: string, strictHere: boolean): string[] => {
    const r = resolve(s);
    const problems: string[] = [];
    if (r.type !== undefined) {
      const types: string[] = Array.isArray(r.type) ? r.type : [r.type];
      if (!types.some((t) => typeOk(t, v)))
        return [`${path}: ${JSON.stringify(v)?.slice(0, 80)} is not ${types.join(' or ')}`];
    }
    if (r.const !== undefined && v !== r.const) problems.push(`${path}: must be ${JSON.stringify(r.const)}`);
    if (r.enum && !r.enum.includes(v))
      problems.push(`${path}: ${JSON.stringify(v)} is not one of ${JSON.stringify(r.enum)}`);
    if (typeof v === 'string') {
      if (r.pattern && !new RegExp(r.pattern).test(v))
        problems.push(`${path}: ${JSON.stringify(v)} does not match ${r.pattern}`);
      if (r.format && FORMATS[r.format] && !FORMATS[r.format]!.test(v))
        problems.push(`${path}: ${JSON.stringify(v)} is not a ${r.format}`);
      if (r.minLength !== undefined && v.length < r.minLength) problems.push(`${path}: shorter than ${r.minLength}`);
      if (r.maxLength !== undefined && v.length > r.maxLength) problems.push(`${path}: longer than ${r.maxLength}`);
    }
    if (typeof v === 'number') {
      if (r.minimum !== undefined && v < r.minimum) problems.push(`${path}: below ${r.minimum}`);
      if (r.maximum !== undefined && v > r.maximum) problems.push(`${path}: above ${r.maximum}`);
    }
    if (Array.isArray(v)) {
      if (r.minItems !== undefined && v.length < r.minItems) problems.push(`${path}: fewer than ${r.minItems} items`);
      if (r.maxItems !== undefined && v.length > r.maxItems) problems.push(`${path}: more than ${r.maxItems} items`);
      if (r.items) {
        v.forEach((item, i) => {
          problems.push(...visit(r.items, item, `${path}[${i}]`, strictHere));
        });
      }
    }
    if (isObject(v)) {
      for (const name of r.required ?? []) if (!(name in v)) problems.push(`${path}: ${name} is missing`);
      for (const [name, value] of Object.entries(v)) {
        const property = r.properties?.[name];
        if (property) problems.push(...visit(property, value, `${path}.${name}`, strictHere));
        else if (isObject(r.additionalProperties))
          problems.push(...visit(r.additionalProperties, value, `${path}.${name}`, strictHere));
      }
      const names = strictHere && !r.oneOf && !r.anyOf ? known(r) : null;
      if (names && (r.properties || r.allOf))
        for (const name of Object.keys(v)) if (!names.has(name)) problems.push(`${path}: ${name} is not documented`);
    }
    // Members of allOf are checked for their values; strictness is judged on the whole.
    for (const member of r.allOf ?? []) problems.push(...visit(member, v, path, false));
    if (r.oneOf) {
      const fits = r.oneOf.filter((member: Schema) => visit(member, v, path, strictHere).length === 0).length;
      if (fits !== 1) problems.push(`${path}: matches ${fits} of the oneOf schemas, not exactly one`);
    }
    if (r.anyOf && !r.anyOf.some((member: Schema) => visit(member, v, path, strictHere).length === 0))
      problems.push(`${path}: matches none of the anyOf schemas`);
    return problems;
  };

  return visit(schema, value, '$', options.strict ?? false);
}

function typeOk(type: string, v: unknown): boolean {
  switch (type) {
    case 'null':
      return v === null;
    case 'integer':
      return Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'string':
    case 'boolean':
      return typeof v === type;
    case 'array':
      return Array.isArray(v);
    case 'object':
      return isObject(v);
    default:
      throw new Error(`unknown schema type ${type}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The JSON type of a value as a schema names it ("integer" for whole numbers). */
export function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (Number.isInteger(v)) return 'integer';
  return typeof v;
}

/**
 * Where `actual` has another JSON type than `sample` has at the same place (null on either
 * side matches anything; array items are compared with the sample's first item; keys only
 * one side has are left to the schemas).
 */
export function typeDifferences(sample: unknown, actual: unknown, path = '$'): string[] {
  if (sample === null || actual === null) return [];
  if (jsonType(sample) !== jsonType(actual))
    return [
      `${path}: ${jsonType(actual)} where the sample has ${jsonType(sample)} (${JSON.stringify(sample)?.slice(0, 60)})`,
    ];
  if (Array.isArray(sample) && Array.isArray(actual)) {
    return sample.length ? actual.flatMap((item, i) => typeDifferences(sample[0], item, `${path}[${i}]`)) : [];
  }
  if (isObject(sample) && isObject(actual)) {
    return Object.keys(sample)
      .filter((k) => k in actual)
      .flatMap((k) => typeDifferences(sample[k], actual[k], `${path}.${k}`));
  }
  return [];
}
