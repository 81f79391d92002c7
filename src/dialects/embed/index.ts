// The embed dialect: an embeddable course builder's headless Identities API. Clients and
// users are named by caller-chosen identifiers. Client metadata is replaced, user metadata
// merged (`name`/`avatar` are shorthands for metadata.name/avatar). Deleting needs the
// Automate plan or above (the services say so). Errors are `{"error":{"code","message"}}`.
import type { Client, Prisma } from '@prisma/client';
import type { Hono } from 'hono';
import { NotFoundError, ValidationError } from '../../errors.js';
import { deleteClient, getClient, listClients, upsertClient } from '../../modules/clients/service.js';
import { findUserView, listUserViews, upsertUserByIdentifier } from '../../modules/users/service.js';
import { deleteUser, type DeleteAction } from '../../modules/users/removal.js';
import {
  caller,
  dialectApp,
  finishDialect,
  iso,
  send,
  type DialectDeps,
  type HttpEnv,
  type RenderFailure,
} from '../common.js';
import { declaredRoutes } from '../declared.js';
import { EMBED_PREFIX, embedOpenApi, embedRoutes as routes } from './routes.js';

export { EMBED_PREFIX };

const FIELD_NAMES = { metadataPatch: 'metadata' };

const render: RenderFailure = (c, f) =>
  send(c, { error: { code: f.code, message: f.message, ...(f.issues?.length ? { issues: f.issues } : {}) } }, f.status);

const clientJson = (client: Client) => ({
  identifier: client.identifier,
  metadata: client.metadata ?? {},
  createdAt: iso(client.createdAt),
  updatedAt: iso(client.updatedAt),
});

/** What the embed's user record shows (userJson): its list reads only this. */
const EMBED_USER = {
  identifier: true,
  metadata: true,
  createdAt: true,
  updatedAt: true,
  client: { select: { identifier: true } },
} satisfies Prisma.UserSelect;

const userJson = (user: Prisma.UserGetPayload<{ select: typeof EMBED_USER }>) => ({
  identifier: user.identifier,
  clientIdentifier: user.client?.identifier ?? null,
  metadata: user.metadata ?? {},
  createdAt: iso(user.createdAt),
  updatedAt: iso(user.updatedAt),
});

const ACTIONS: Record<string, DeleteAction> = { reallocate: 'REALLOCATE', delete: 'DELETE', ignore: 'IGNORE' };

/** page (from 0) and length of a list as the service's skip/take. */
const window = ({ page, length }: { page: number; length: number }) => ({ skip: page * length, take: length });

export function embedDialect(deps: DialectDeps): Hono<HttpEnv> {
  const app = dialectApp(deps, { prefix: EMBED_PREFIX, openapi: embedOpenApi, render, fieldNames: FIELD_NAMES });
  const serve = declaredRoutes(app, (c) => caller(c, deps));

  const findUser = async (ctx: ReturnType<typeof caller>['ctx'], identifier: string) => {
    const user = await findUserView(ctx, { identifier });
    if (!user) throw new NotFoundError('User', identifier.slice(0, 100));
    return user;
  };

  serve(routes.listClients, async (c, { query }, { ctx }) => {
    const { clients, total } = await listClients(ctx, window(query));
    return c.json({ data: clients.map(clientJson), ...query, total });
  });

  serve(routes.getClient, async (c, { params }, { ctx }) =>
    c.json(clientJson(await getClient(ctx, params.identifier))),
  );

  // Creates the client or replaces its whole metadata.
  serve(routes.putClient, async (c, { params, body }, { ctx }) => {
    const { client, created } = await upsertClient(ctx, { identifier: params.identifier, metadata: body.metadata });
    return c.json(clientJson(client), created ? 201 : 200);
  });

  // Removes the client, its users and their courses.
  serve(routes.deleteClient, async (c, { params }, { ctx }) => {
    await deleteClient(ctx, params.identifier);
    return c.body(null, 204);
  });

  serve(routes.listUsers, async (c, { query: { clientIdentifier, ...paging } }, { ctx }) => {
    const { users, total } = await listUserViews(
      ctx,
      { hasIdentifier: true, clientIdentifier },
      { ...window(paging), order: 'CREATED_AT' },
      EMBED_USER,
    );
    return c.json({ data: users.map(userJson), ...paging, total });
  });

  serve(routes.getUser, async (c, { params }, { ctx }) => c.json(userJson(await findUser(ctx, params.identifier))));

  // Creates the user, or merges into its metadata (name/avatar set metadata.name/avatar).
  serve(routes.putUser, async (c, { params, body }, { ctx }) => {
    const { id, created } = await upsertUserByIdentifier(ctx, params.identifier, body);
    return c.json(userJson((await findUserView(ctx, { id }))!), created ? 201 : 200);
  });

  serve(routes.deleteUser, async (c, { params: { identifier }, query }, { ctx }) => {
    const user = await findUser(ctx, identifier);
    // Naming the client narrows the lookup: a user of another client is not this one.
    if (query.clientIdentifier !== undefined && user.client?.identifier !== query.clientIdentifier) {
      throw new NotFoundError('User', identifier.slice(0, 100));
    }
    let reallocateTo: string | undefined;
    if (query.reallocateTo) {
      const receiver = await findUserView(ctx, { identifier: query.reallocateTo });
      if (!receiver)
        throw new ValidationError(
          `no user with identifier ${JSON.stringify(query.reallocateTo.slice(0, 100))}`,
          'reallocateTo',
        );
      reallocateTo = receiver.id;
    }
    await deleteUser(ctx, user.id, ACTIONS[query.action]!, reallocateTo);
    return c.body(null, 204);
  });

  return finishDialect(app, { prefix: EMBED_PREFIX, render });
}
