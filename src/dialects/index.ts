// Mounts the REST dialects under /rest/<dialect>. Each dialect maps its wire format onto the
// shared services; none holds a business rule.
import type { Hono } from 'hono';
import type { DialectDeps, HttpEnv } from '../http.js';

export function mountDialects(app: Hono<HttpEnv>, deps: DialectDeps): void {
  void app;
  void deps;
}
