// OpenAPI 3.1 document of the embed dialect (served at /rest/embed/openapi.json).
import { dateTime, errorResponses, jsonContent, openApiDocument, pathParam, queryParam, ref, response } from '../openapi.js';

const CLIENT_EXAMPLE = { identifier: 'acme-school', metadata: { name: 'Acme School' }, createdAt: '2026-01-15T09:30:00.000Z', updatedAt: '2026-01-15T09:30:00.000Z' };
const USER_EXAMPLE = {
  identifier: 'learner-42',
  clientIdentifier: 'acme-school',
  metadata: { name: 'Ada', avatar: 'https://example.com/ada.png' },
  createdAt: '2026-01-15T09:30:00.000Z',
  updatedAt: '2026-01-15T09:30:00.000Z',
};

const metadata = { type: 'object', additionalProperties: true, description: 'At most 64 KiB as JSON and 16 levels deep.' };
const identifier = pathParam('identifier', { type: 'string', minLength: 1, maxLength: 255 }, 'Caller-chosen, unique per partner.');
const paging = [
  queryParam('page', { type: 'integer', minimum: 0, default: 0 }),
  queryParam('length', { type: 'integer', minimum: 1, maximum: 1000, default: 100 }),
];
const list = (item: string) => ({
  type: 'object',
  properties: { data: { type: 'array', items: ref(item) }, page: { type: 'integer' }, length: { type: 'integer' }, total: { type: 'integer' } },
});

export const embedOpenApi = openApiDocument({
  title: 'account-gateway — embed dialect',
  description:
    'The headless Identities API of the embeddable course builder: clients and users with caller-chosen identifiers. ' +
    'Reads and updates need the Core plan, deletes the Automate plan or above. Errors are `{"error": {"code", "message", "issues"?}}`.',
  prefix: '/rest/embed',
  schemas: {
    Client: { type: 'object', properties: { identifier: { type: 'string' }, metadata, createdAt: dateTime, updatedAt: dateTime } },
    User: {
      type: 'object',
      properties: { identifier: { type: 'string' }, clientIdentifier: { type: ['string', 'null'] }, metadata, createdAt: dateTime, updatedAt: dateTime },
    },
    ClientPut: { type: 'object', properties: { metadata: { ...metadata, description: 'Replaces the whole metadata (absent: {}).' } } },
    UserPut: {
      type: 'object',
      properties: {
        clientIdentifier: { type: 'string', description: 'An existing client.' },
        metadata: { ...metadata, description: 'Merged into the current metadata key by key; a null value removes a key.' },
        name: { type: 'string', description: 'Sets metadata.name.' },
        avatar: { type: 'string', description: 'Sets metadata.avatar.' },
      },
    },
    Error: {
      type: 'object',
      properties: {
        error: {
          type: 'object',
          required: ['code', 'message'],
          properties: {
            code: { type: 'string', example: 'not_found' },
            message: { type: 'string' },
            issues: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
          },
        },
      },
    },
  },
  paths: {
    '/v1/headless/clients': {
      get: {
        operationId: 'listClients',
        summary: 'Clients, in creation order',
        parameters: paging,
        responses: { ...response(200, list('Client'), { data: [CLIENT_EXAMPLE], page: 0, length: 100, total: 1 }), ...errorResponses([400, 403]) },
      },
    },
    '/v1/headless/client/{identifier}': {
      get: {
        operationId: 'getClient',
        summary: 'A client',
        parameters: [identifier],
        responses: { ...response(200, ref('Client'), CLIENT_EXAMPLE), ...errorResponses([404]) },
      },
      put: {
        operationId: 'putClient',
        summary: 'Create a client (201) or replace its metadata (200)',
        parameters: [identifier],
        requestBody: { required: true, content: jsonContent(ref('ClientPut'), { metadata: { name: 'Acme School' } }) },
        responses: { ...response(200, ref('Client'), CLIENT_EXAMPLE), ...response(201, ref('Client'), CLIENT_EXAMPLE), ...errorResponses([400, 403]) },
      },
      delete: {
        operationId: 'deleteClient',
        summary: 'Delete a client with its users and their courses (Automate and above)',
        parameters: [identifier],
        responses: { ...response(204), ...errorResponses([403, 404]) },
      },
    },
    '/v1/headless/users': {
      get: {
        operationId: 'listUsers',
        summary: 'Users with an embed identity, in creation order',
        parameters: [...paging, queryParam('clientIdentifier', { type: 'string' }, 'Only the users of this client.')],
        responses: { ...response(200, list('User'), { data: [USER_EXAMPLE], page: 0, length: 100, total: 1 }), ...errorResponses([400, 403]) },
      },
    },
    '/v1/headless/user/{identifier}': {
      get: {
        operationId: 'getUser',
        summary: 'A user',
        parameters: [identifier],
        responses: { ...response(200, ref('User'), USER_EXAMPLE), ...errorResponses([404]) },
      },
      put: {
        operationId: 'putUser',
        summary: 'Create a user (201) or merge into its metadata (200)',
        parameters: [identifier],
        requestBody: { required: true, content: jsonContent(ref('UserPut'), { clientIdentifier: 'acme-school', name: 'Ada', metadata: { level: 3 } }) },
        responses: { ...response(200, ref('User'), USER_EXAMPLE), ...response(201, ref('User'), USER_EXAMPLE), ...errorResponses([400, 403, 404, 409]) },
      },
      delete: {
        operationId: 'deleteUser',
        summary: "Delete a user (Automate and above); its courses are reallocated (default: to the partner's first admin), deleted or left",
        parameters: [
          identifier,
          queryParam('clientIdentifier', { type: 'string' }, 'The user must belong to this client.'),
          queryParam('action', { type: 'string', enum: ['reallocate', 'delete', 'ignore'], default: 'reallocate' }),
          queryParam('reallocateTo', { type: 'string' }, 'Identifier of the user who receives the courses (action=reallocate).'),
        ],
        responses: { ...response(204), ...errorResponses([400, 403, 404]) },
      },
    },
  },
});
