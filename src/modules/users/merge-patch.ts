// JSON Merge Patch (RFC 7396): objects merge key by key, null removes a key, anything
// else (arrays included) replaces.
export type JsonObject = { [key: string]: unknown };

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

export function applyMergePatch(target: unknown, patch: unknown): JsonObject {
  return mergeValue(target, patch) as JsonObject;
}

function mergeValue(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    // Own-property reads and writes: a parsed "__proto__" key is data, and plain assignment
    // would instead replace the result's prototype (and drop the key from the stored JSON).
    else define(result, key, mergeValue(Object.hasOwn(result, key) ? result[key] : undefined, value));
  }
  return result;
}

const define = (o: JsonObject, key: string, value: unknown) =>
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
