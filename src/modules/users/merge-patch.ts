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
    else result[key] = mergeValue(result[key], value);
  }
  return result;
}
