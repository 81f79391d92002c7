// The whole app in-process, on a store as fresh as a new one (test/helpers/store.ts), with
// helpers to call it as a client would.
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/logger.js';
import type { Store, StoreOptions } from '../../src/store/database.js';
import { openTestStore, storeAvailable } from './store.js';

export const OPERATOR_TOKEN = 'test-operator-token-0123456789';
export const JWT_SECRET = 'test-jwt-secret-0123456789-0123456789-abcdef';

export interface GqlResult<T = any> {
  status: number;
  data: T;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string } }[];
  headers: Headers;
}

export interface Harness {
  app: App;
  store: Store;
  config: Config;
  /** POST a GraphQL operation with a bearer token (API key, JWT or the operator token). */
  gql<T = any>(
    query: string,
    variables?: Record<string, unknown>,
    options?: { token?: string; ip?: string; headers?: Record<string, string> },
  ): Promise<GqlResult<T>>;
  /** Any HTTP request against the app. */
  request(path: string, init?: RequestInit & { token?: string; ip?: string }): Promise<Response>;
  /** A new partner through the operator's createPartner; returns its admin's API key. */
  newPartner(name?: string, plan?: 'CORE' | 'AUTOMATE' | 'ENTERPRISE'): Promise<Partner>;
  /** SQL statements sent while `work` ran (after earlier background writes settled). */
  countStatements(work: () => Promise<unknown>): Promise<number>;
  /** Waits until the background writes of earlier requests (an API key's once-a-minute
   * lastUsedAt), on every app of this store, are done: they must not land in a count. */
  settle(): Promise<void>;
}

export interface Partner {
  key: string;
  accountId: string;
  accountGlobalId: string;
  adminUserId: string;
  adminGlobalId: string;
}

/**
 * The settings every test app starts from (a file's own env overrides them):
 * - a principal is cached for 5 minutes (PRINCIPAL_CACHE_SECONDS), not the default 5 s: on a
 *   loaded machine a request can take longer than 5 s, and a credential looked up again in the
 *   middle of a statement count is not the read being counted (test/auth.test.ts covers the
 *   expiry itself);
 * - a backend call's retries wait 5 ms at first (BACKEND_BACKOFF_MS), not 200 ms: a test of a
 *   backend that is down makes the same 1 + BACKEND_RETRIES requests without sleeping through
 *   six seconds of backoff (test/connectors.test.ts covers the settings themselves).
 */
const TEST_ENV = {
  OPERATOR_TOKEN,
  JWT_SECRET,
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  SEED_DEMO: 'false',
  PRINCIPAL_CACHE_SECONDS: '300',
  BACKEND_BACKOFF_MS: '5',
};

/** The apps the helpers built on each store, whose background writes settle() waits for. */
const appsOf = new WeakMap<Store, App[]>();
function register(store: Store, app: App): App {
  appsOf.set(store, [...(appsOf.get(store) ?? []), app]);
  return app;
}

/**
 * A second app on the harness's store, with its own settings (a test comparing two read paths
 * on the same data). Rate limits are out of reach: such tests send many requests with one key.
 */
export function siblingApp(store: Store, env: Record<string, string>): App {
  const config = loadConfig({ ...TEST_ENV, RATE_LIMIT_PER_MINUTE: '1000000', ...env });
  return register(store, createApp({ config, store, logger: createLogger(config.logLevel) }));
}

/**
 * Counts the statements the compiled read path sends through the pool (`SELECT … ::text AS
 * data`, named or not: only the first texts get a prepared name): how a test knows that path
 * answered, whatever else ran meanwhile.
 */
export function watchCompiledStatements(store: Store): { count(): number; restore(): void } {
  const pool = store.pool as unknown as { query: (...args: unknown[]) => unknown };
  const original = pool.query;
  let compiled = 0;
  pool.query = function (this: unknown, ...args: unknown[]) {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text;
    if (text?.endsWith('::text AS data')) compiled++;
    return original.apply(this, args);
  };
  return {
    count: () => compiled,
    restore: () => {
      pool.query = original;
    },
  };
}

let counter = 0;

/**
 * Opening a store (a copy of the migrated template) and building an app. PGlite's start is
 * WebAssembly work that a machine shared with other suites slows many times over (more than
 * 30 s seen under a load average of 12 on 2 cores).
 */
export const STORE_START_TIMEOUT = 90_000;

/**
 * Sets up the app once for the calling test file (beforeAll/afterAll). `ready` is false
 * when the file's store is not available (postgres project without a server).
 */
export function useHarness(
  env: Record<string, string> = {},
  storeOptions: Pick<StoreOptions, 'idleTimeoutMillis'> = {},
  /** `logger`: the app logs there instead (a test reading what is logged). */
  options: { logger?: Logger } = {},
): Harness & { readonly ready: boolean } {
  let state: { harness: Harness; drop: () => Promise<void> } | undefined;
  let ready = false;
  beforeAll(async () => {
    ready = await storeAvailable();
    if (!ready) return;
    const { store, drop } = await openTestStore(storeOptions);
    try {
      const config = loadConfig({ ...TEST_ENV, ...env });
      const logger = options.logger ?? createLogger(config.logLevel);
      const app = register(store, createApp({ config, store, logger }));
      state = { harness: makeHarness(app, store, config), drop };
    } catch (error) {
      // A bad config for this file: the store goes back (the worker's, to the next file).
      await drop();
      throw error;
    }
  }, STORE_START_TIMEOUT);
  afterAll(async () => {
    if (state) {
      await state.harness.settle();
      // The worker's shared store outlives this file; its apps do not.
      appsOf.delete(state.harness.store);
    }
    await state?.drop();
  }, STORE_START_TIMEOUT);
  beforeEach((context) => {
    if (!ready) context.skip();
  });
  const get = () => {
    if (!state) throw new Error('harness not ready');
    return state.harness;
  };
  return {
    get ready() {
      return ready;
    },
    get app() {
      return get().app;
    },
    get store() {
      return get().store;
    },
    get config() {
      return get().config;
    },
    gql: (...args) => get().gql(...args),
    request: (...args) => get().request(...args),
    newPartner: (...args) => get().newPartner(...args),
    countStatements: (work) => get().countStatements(work),
    settle: () => get().settle(),
  };
}

function makeHarness(app: App, store: Store, config: Config): Harness {
  const request: Harness['request'] = (path, init = {}) => {
    const { token, ip, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (token) headers.set('authorization', `Bearer ${token}`);
    return app.fetch(new Request(`http://gateway.test${path}`, { ...rest, headers }), { ip: ip ?? '127.0.0.1' });
  };
  const gql: Harness['gql'] = async (query, variables, options = {}) => {
    const response = await request('/graphql', {
      method: 'POST',
      token: options.token,
      ip: options.ip,
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...options.headers },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: any; errors?: GqlResult['errors'] };
    return { status: response.status, data: body.data, errors: body.errors, headers: response.headers };
  };
  return {
    app,
    store,
    config,
    gql,
    request,
    async newPartner(name = `Partner ${++counter}`, plan = 'AUTOMATE') {
      const { data, errors } = await gql(
        `mutation ($input: CreatePartnerInput!) { createPartner(input: $input) {
          __typename ... on CreatePartnerSuccess { apiKey account { id ulid } adminUser { id uuid } }
          ... on Error { message } } }`,
        { input: { name, plan } },
        { token: OPERATOR_TOKEN },
      );
      const result = data?.createPartner;
      if (result?.__typename !== 'CreatePartnerSuccess')
        throw new Error(`createPartner failed: ${JSON.stringify(errors ?? result)}`);
      return {
        key: result.apiKey,
        accountId: result.account.ulid,
        accountGlobalId: result.account.id,
        adminUserId: result.adminUser.uuid,
        adminGlobalId: result.adminUser.id,
      };
    },
    async countStatements(work) {
      await this.settle();
      const before = store.statementCount();
      await work();
      return store.statementCount() - before;
    },
    async settle() {
      await Promise.all((appsOf.get(store) ?? []).map((each) => each.authenticator.settled()));
    },
  };
}
