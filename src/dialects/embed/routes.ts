// The embed dialect's routes, declared once: they validate its requests and are its OpenAPI
// 3.1 document (served at /rest/embed/openapi.json).
import { ValidationError } from '../../errors.js';
import {
  coerced,
  createRoute,
  dialectDocument,
  errorResponses,
  jsonObject,
  ok,
  text,
  wholeNumber,
  z,
} from '../declared.js';

export const EMBED_PREFIX = '/rest/embed';

const CLIENT_EXAMPLE = {
  identifier: 'acme-school',
  metadata: { name: 'Acme School' },
  createdAt: '2026-01-15T09:30:00.000Z',
  updatedAt: '2026-01-15T09:30:00.000Z',
};
const USER_EXAMPLE = {
  identifier: 'learner-42',
  clientIdentifier: 'acme-school',
  metadata: { name: 'Ada', avatar: 'https://example.com/ada.png' },
  createdAt: '2026-01-15T09:30:00.000Z',
  updatedAt: '2026-01-15T09:30:00.000Z',
};

const dateTime = z.string().openapi({ format: 'date-time' });
const metadata = z
  .record(z.string(), z.unknown())
  .openapi({ description: 'At most 64 KiB as JSON and 16 levels deep.' });

const Client = z
  .object({ identifier: z.string(), metadata, createdAt: dateTime, updatedAt: dateTime })
  .openapi('Client');
const User = z
  .object({
    identifier: z.string(),
    clientIdentifier: z.string().nullable(),
    metadata,
    createdAt: dateTime,
    updatedAt: dateTime,
  })
  .openapi('User');

const ClientPut = z
  .object({
    metadata: jsonObject({
      description: 'Replaces the whole metadata (absent: {}). At most 64 KiB as JSON and 16 levels deep.',
    }),
  })
  .openapi('ClientPut');
const UserPut = z
  .object({
    clientIdentifier: text({ description: 'An existing client.' }),
    metadata: jsonObject({
      description:
        'Merged into the current metadata key by key; ' +
        'a null value removes a key. At most 64 KiB as JSON and 16 levels deep.',
    }),
    name: text({ description: 'Sets metadata.name.' }),
    avatar: text({ description: 'Sets metadata.avatar.' }),
  })
  .openapi('UserPut');

const ErrorEnvelope = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'not_found' }),
      message: z.string(),
      issues: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    }),
  })
  .openapi('Error');

const identifier = z.object({
  identifier: z.string().openapi({ minLength: 1, maxLength: 255, description: 'Caller-chosen, unique per partner.' }),
});
const paging = { page: wholeNumber(0, 1_000_000, 0), length: wholeNumber(1, 1000, 100) };
const list = <T extends z.ZodType>(item: T) =>
  z.object({ data: z.array(item), page: z.number().int(), length: z.number().int(), total: z.number().int() });
/** An optional query string; empty counts as absent. */
const optionalText = (description: string) =>
  coerced((v) => (typeof v === 'string' && v !== '' ? v : undefined), { type: 'string', description });

const ACTIONS = ['reallocate', 'delete', 'ignore'] as const;
const action = coerced(
  (v) => {
    const name = (typeof v === 'string' && v !== '' ? v : 'reallocate').toLowerCase();
    if (!(ACTIONS as readonly string[]).includes(name))
      throw new ValidationError('must be reallocate, delete or ignore', '');
    return name as (typeof ACTIONS)[number];
  },
  { type: 'string', enum: [...ACTIONS], default: 'reallocate' },
);

const noContent = { 204: { description: 'No content' } };

export const embedRoutes = {
  listClients: createRoute({
    method: 'get',
    path: '/v1/headless/clients',
    operationId: 'listClients',
    summary: 'Clients, in creation order',
    request: { query: z.object(paging) },
    responses: {
      ...ok(200, list(Client), { data: [CLIENT_EXAMPLE], page: 0, length: 100, total: 1 }),
      ...errorResponses([400, 403], ErrorEnvelope),
    },
  }),
  getClient: createRoute({
    method: 'get',
    path: '/v1/headless/client/{identifier}',
    operationId: 'getClient',
    summary: 'A client',
    request: { params: identifier },
    responses: { ...ok(200, Client, CLIENT_EXAMPLE), ...errorResponses([404], ErrorEnvelope) },
  }),
  putClient: createRoute({
    method: 'put',
    path: '/v1/headless/client/{identifier}',
    operationId: 'putClient',
    summary: 'Create a client (201) or replace its metadata (200)',
    request: {
      params: identifier,
      body: {
        required: true,
        content: { 'application/json': { schema: ClientPut, example: { metadata: { name: 'Acme School' } } } },
      },
    },
    responses: {
      ...ok(200, Client, CLIENT_EXAMPLE),
      ...ok(201, Client, CLIENT_EXAMPLE),
      ...errorResponses([400, 403], ErrorEnvelope),
    },
  }),
  deleteClient: createRoute({
    method: 'delete',
    path: '/v1/headless/client/{identifier}',
    operationId: 'deleteClient',
    summary: 'Delete a client with its users and their courses (Automate and above)',
    request: { params: identifier },
    responses: { ...noContent, ...errorResponses([403, 404], ErrorEnvelope) },
  }),
  listUsers: createRoute({
    method: 'get',
    path: '/v1/headless/users',
    operationId: 'listUsers',
    summary: 'Users with an embed identity, in creation order',
    request: { query: z.object({ ...paging, clientIdentifier: optionalText('Only the users of this client.') }) },
    responses: {
      ...ok(200, list(User), { data: [USER_EXAMPLE], page: 0, length: 100, total: 1 }),
      ...errorResponses([400, 403], ErrorEnvelope),
    },
  }),
  getUser: createRoute({
    method: 'get',
    path: '/v1/headless/user/{identifier}',
    operationId: 'getUser',
    summary: 'A user',
    request: { params: identifier },
    responses: { ...ok(200, User, USER_EXAMPLE), ...errorResponses([404], ErrorEnvelope) },
  }),
  putUser: createRoute({
    method: 'put',
    path: '/v1/headless/user/{identifier}',
    operationId: 'putUser',
    summary: 'Create a user (201) or merge into its metadata (200)',
    request: {
      params: identifier,
      body: {
        required: true,
        content: {
          'application/json': {
            schema: UserPut,
            example: { clientIdentifier: 'acme-school', name: 'Ada', metadata: { level: 3 } },
          },
        },
      },
    },
    responses: {
      ...ok(200, User, USER_EXAMPLE),
      ...ok(201, User, USER_EXAMPLE),
      ...errorResponses([400, 403, 404, 409], ErrorEnvelope),
    },
  }),
  deleteUser: createRoute({
    method: 'delete',
    path: '/v1/headless/user/{identifier}',
    operationId: 'deleteUser',
    summary:
      'Delete a user (Automate and above); its courses are reallocated (default: ' +
      "to the partner's first admin), deleted or left",
    request: {
      params: identifier,
      query: z
        .object({
          // Given but empty still narrows (to no client): kept as sent.
          clientIdentifier: z.string().optional().openapi({ description: 'The user must belong to this client.' }),
          action,
          reallocateTo: optionalText('Identifier of the user who receives the courses (action=reallocate).'),
        })
        .refine((q) => !q.reallocateTo || q.action === 'reallocate', {
          message: 'only goes with action=reallocate',
          path: ['reallocateTo'],
        }),
    },
    responses: { ...noContent, ...errorResponses([400, 403, 404, 501], ErrorEnvelope) },
  }),
};

export const embedOpenApi = dialectDocument(
  {
    title: 'account-gateway — embed dialect',
    description:
      'The headless Identities API of the embeddable course builder: ' +
      'clients and users with caller-chosen identifiers. ' +
      'Reads and updates need the Core plan, deletes the Automate plan or above. ' +
      'Errors are `{"error": {"code", "message", "issues"?}}`.',
    prefix: EMBED_PREFIX,
  },
  embedRoutes,
);
