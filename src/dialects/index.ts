// Mounts the REST dialects under /rest/<dialect>. Each dialect maps its wire format onto the
// shared services; none holds a business rule. Each is a Hono sub-app with its own error
// envelope, guarded like the graph (authentication, rate limit, the REST IP allow-list).
import type { Hono } from 'hono';
import type { DialectDeps, HttpEnv } from '../http.js';
import { CATALOG_PREFIX, catalogDialect } from './catalog/index.js';
import { EMBED_PREFIX, embedDialect } from './embed/index.js';
import { LEARNING_PREFIX, learningDialect } from './learning/index.js';
import { MESSAGING_PREFIX, messagingDialect } from './messaging/index.js';

/** Prefix → the dialect's sub-app factory (also read by the OpenAPI test). */
export const DIALECTS = {
  [LEARNING_PREFIX]: learningDialect,
  [CATALOG_PREFIX]: catalogDialect,
  [MESSAGING_PREFIX]: messagingDialect,
  [EMBED_PREFIX]: embedDialect,
} as const;

export function mountDialects(app: Hono<HttpEnv>, deps: DialectDeps): void {
  for (const [prefix, dialect] of Object.entries(DIALECTS)) app.route(prefix, dialect(deps));
}
