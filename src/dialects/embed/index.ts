// The embed dialect: an embeddable course builder's headless Identities API. Clients and
// users are named by caller-chosen identifiers. Client metadata is replaced, user metadata
// merged (`name`/`avatar` are shorthands for metadata.name/avatar). Deleting needs the
// Automate plan or above (the services say so). Errors are `{"error":{"code","message"}}`.
import type { Client } from '@prisma/client';
import type { Hono } from 'hono';
import { NotFoundError, ValidationError } from '../../errors.js';
import { deleteClient, getClient, listClients, upsertClient } from '../../modules/clients/service.js';
import { findUserView, listUserViews, upsertUserByIdentifier, type UserView } from '../../modules/users/service.js';
import { deleteUser, type DeleteAction } from '../../modules/users/removal.js';
import {
  caller,
  dialectApp,
  finishDialect,
  iso,
  jsonBody,
  optionalInt,
  send,
  stringValue,
  type DialectDeps,
  type HttpContext,
  type HttpEnv,
  type RenderFailure,
} from '../common.js';
import { embedOpenApi } from './openapi.js';

export const EMBED_PREFIX = '/rest/embed';

const DEFAULT_LENGTH = 100;
const MAX_LENGTH = 1000;

const FIELD_NAMES = { metadataPatch: 'metadata' };

const render: RenderFailure = (c, f) =>
  send(c, { error: { code: f.code, message: f.message, ...(f.issues?.length ? { issues: f.issues } : {}) } }, f.status);

const clientJson = (client: Client) => ({
  identifier: client.identifier,
  metadata: client.metadata ?? {},
  createdAt: iso(client.createdAt),
  updatedAt: iso(client.updatedAt),
});

const userJson = (user: UserView) => ({
  identifier: user.identifier,
  clientIdentifier: user.client?.identifier ?? null,
  metadata: user.metadata ?? {},
  createdAt: iso(user.createdAt),
  updatedAt: iso(user.updatedAt),
});

const ACTIONS: Record<string, DeleteAction> = { reallocate: 'REALLOCATE', delete: 'DELETE', ignore: 'IGNORE' };

/** page (from 0) and length (1–1000, default 100) of a list. */
function paging(c: HttpContext) {
  const page = optionalInt(c.req.query('page'), 'page', 0, 1_000_000, 0)!;
  const length = optionalInt(c.req.query('length'), 'length', 1, MAX_LENGTH, DEFAULT_LENGTH)!;
  return { page, length, skip: page * length };
}

/** The metadata of a body: an object when given (the services bound its size and depth). */
function metadataOf(body: Record<string, unknown>) {
  const value = body.metadata;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw new ValidationError('must be a JSON object', 'metadata');
  return value as Record<string, unknown>;
}

export function embedDialect(deps: DialectDeps): Hono<HttpEnv> {
  const app = dialectApp(deps, { prefix: EMBED_PREFIX, openapi: embedOpenApi, render, fieldNames: FIELD_NAMES });

  const findUser = async (c: HttpContext) => {
    const { ctx } = caller(c, deps);
    const identifier = c.req.param('identifier')!;
    const user = await findUserView(ctx, { identifier });
    if (!user) throw new NotFoundError('User', identifier.slice(0, 100));
    return { ctx, user, identifier };
  };

  app.get('/v1/headless/clients', async (c) => {
    const { ctx } = caller(c, deps);
    const { page, length, skip } = paging(c);
    const { clients, total } = await listClients(ctx, { skip, take: length });
    return c.json({ data: clients.map(clientJson), page, length, total });
  });

  app.get('/v1/headless/client/:identifier', async (c) => {
    const { ctx } = caller(c, deps);
    return c.json(clientJson(await getClient(ctx, c.req.param('identifier'))));
  });

  // Creates the client or replaces its whole metadata.
  app.put('/v1/headless/client/:identifier', async (c) => {
    const { ctx } = caller(c, deps);
    const body = await jsonBody(c);
    const { client, created } = await upsertClient(ctx, { identifier: c.req.param('identifier'), metadata: metadataOf(body) });
    return c.json(clientJson(client), created ? 201 : 200);
  });

  // Removes the client, its users and their courses.
  app.delete('/v1/headless/client/:identifier', async (c) => {
    const { ctx } = caller(c, deps);
    await deleteClient(ctx, c.req.param('identifier'));
    return c.body(null, 204);
  });

  app.get('/v1/headless/users', async (c) => {
    const { ctx } = caller(c, deps);
    const { page, length, skip } = paging(c);
    const clientIdentifier = c.req.query('clientIdentifier') || undefined;
    const { users, total } = await listUserViews(ctx, { hasIdentifier: true, clientIdentifier }, { skip, take: length, order: 'CREATED_AT' });
    return c.json({ data: users.map(userJson), page, length, total });
  });

  app.get('/v1/headless/user/:identifier', async (c) => {
    const { user } = await findUser(c);
    return c.json(userJson(user));
  });

  // Creates the user, or merges into its metadata (name/avatar set metadata.name/avatar).
  app.put('/v1/headless/user/:identifier', async (c) => {
    const { ctx } = caller(c, deps);
    const identifier = c.req.param('identifier');
    const body = await jsonBody(c);
    const fields = {
      clientIdentifier: stringValue(body.clientIdentifier, 'clientIdentifier'),
      name: stringValue(body.name, 'name'),
      avatar: stringValue(body.avatar, 'avatar'),
    };
    const { id, created } = await upsertUserByIdentifier(ctx, identifier, { ...fields, metadata: metadataOf(body) });
    return c.json(userJson((await findUserView(ctx, { id }))!), created ? 201 : 200);
  });

  app.delete('/v1/headless/user/:identifier', async (c) => {
    const actionName = (c.req.query('action') || 'reallocate').toLowerCase();
    const action = ACTIONS[actionName];
    if (!action) throw new ValidationError('must be reallocate, delete or ignore', 'action');
    const reallocateKey = c.req.query('reallocateTo') || undefined;
    if (reallocateKey && action !== 'REALLOCATE') throw new ValidationError('only goes with action=reallocate', 'reallocateTo');
    const { ctx, user, identifier } = await findUser(c);
    const clientIdentifier = c.req.query('clientIdentifier');
    // Naming the client narrows the lookup: a user of another client is not this one.
    if (clientIdentifier !== undefined && user.client?.identifier !== clientIdentifier) throw new NotFoundError('User', identifier.slice(0, 100));
    let reallocateTo: string | undefined;
    if (reallocateKey) {
      const receiver = await findUserView(ctx, { identifier: reallocateKey });
      if (!receiver) throw new ValidationError(`no user with identifier ${JSON.stringify(reallocateKey.slice(0, 100))}`, 'reallocateTo');
      reallocateTo = receiver.id;
    }
    await deleteUser(ctx, user.id, action, reallocateTo);
    return c.body(null, 204);
  });

  return finishDialect(app, { prefix: EMBED_PREFIX, render });
}
