// Small builders for the hand-written OpenAPI 3.1 documents of the dialects. Each dialect
// keeps its document next to its routes; a test checks that both list the same operations.

import { REASONS } from './declared.js';

export type Schema = Record<string, unknown>;

export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

export const jsonContent = (schema: Schema, example?: unknown) => ({
  'application/json': { schema, ...(example === undefined ? {} : { example }) },
});

export const response = (status: number, schema?: Schema, example?: unknown, headers?: Record<string, unknown>) => ({
  [status]: {
    description: REASONS[status] ?? String(status),
    ...(schema ? { content: jsonContent(schema, example) } : {}),
    ...(headers ? { headers } : {}),
  },
});

/** The error responses of an operation, all in the dialect's error envelope. */
export const errorResponses = (statuses: number[], errorSchema = 'Error') =>
  Object.assign({}, ...[401, 429, ...statuses].map((s) => response(s, ref(errorSchema))));

export const pathParam = (name: string, schema: Schema, description?: string) => ({
  name,
  in: 'path',
  required: true,
  schema,
  ...(description ? { description } : {}),
});
export const queryParam = (name: string, schema: Schema, description?: string) => ({
  name,
  in: 'query',
  required: false,
  schema,
  ...(description ? { description } : {}),
});

export const dateTime: Schema = { type: 'string', format: 'date-time' };
export const nullable = (schema: Schema): Schema => ({ ...schema, type: [schema.type as string, 'null'] });

export function openApiDocument(options: {
  title: string;
  description: string;
  prefix: string;
  paths: Record<string, unknown>;
  schemas: Record<string, Schema>;
  securitySchemes?: Record<string, unknown>;
}) {
  return {
    openapi: '3.1.0',
    info: { title: options.title, version: '1.0.0', description: options.description },
    servers: [{ url: options.prefix }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: options.securitySchemes ?? {
        bearer: { type: 'http', scheme: 'bearer', description: 'A partner API key or a user JWT.' },
      },
      schemas: options.schemas,
    },
    paths: options.paths,
  };
}
