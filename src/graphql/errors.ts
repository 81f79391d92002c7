// The Error interface and the GraphQL face of each domain error (src/errors.ts).
// The error types are value types a Pothos/Relay subgraph usually defines too (same names,
// message and code): @shareable, so that a supergraph composes with such a subgraph.
import {
  ConflictError,
  type DomainError,
  ForbiddenError,
  NotFoundError,
  PiiRejectedError,
  ValidationError,
  type FieldIssue,
} from '../errors.js';
import { GraphQLError } from 'graphql';
import { builder } from './builder.js';

export const ErrorInterface = builder.interfaceRef<DomainError>('Error').implement({
  description: 'An expected failure of a mutation: read `code` and `message`, or select a concrete type for details.',
  fields: (t) => ({
    message: t.exposeString('message'),
    code: t.exposeString('code'),
  }),
});

const FieldIssueRef = builder.objectRef<FieldIssue>('FieldIssue').implement({
  shareable: true,
  fields: (t) => ({
    field: t.exposeString('field', { description: 'Path of the input field, e.g. `input.externalUserId`.' }),
    message: t.exposeString('message'),
  }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  interfaces: [ErrorInterface],
  shareable: true,
  isTypeOf: (value) => value instanceof NotFoundError,
  fields: (t) => ({ entity: t.exposeString('entity') }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  interfaces: [ErrorInterface],
  shareable: true,
  isTypeOf: (value) => value instanceof ValidationError,
  fields: (t) => ({ issues: t.field({ type: [FieldIssueRef], resolve: (e) => [...e.issues] }) }),
});

builder.objectType(ConflictError, {
  name: 'ConflictError',
  interfaces: [ErrorInterface],
  shareable: true,
  isTypeOf: (value) => value instanceof ConflictError,
  fields: (t) => ({
    field: t.exposeString('field', { nullable: true, description: 'The key that is already taken.' }),
    existingId: t.exposeString('existingId', { nullable: true, description: 'Native id of the record holding the key.' }),
  }),
});

builder.objectType(ForbiddenError, {
  name: 'ForbiddenError',
  interfaces: [ErrorInterface],
  shareable: true,
  isTypeOf: (value) => value instanceof ForbiddenError,
});

builder.objectType(PiiRejectedError, {
  name: 'PiiRejectedError',
  interfaces: [ErrorInterface],
  shareable: true,
  isTypeOf: (value) => value instanceof PiiRejectedError,
  fields: (t) => ({
    field: t.exposeString('field'),
    rule: t.exposeString('rule', { description: 'Which rule matched: email, phone or national_id.' }),
  }),
});

/** Every typed error: what one item of createUsers (a whole createUser) can fail with. */
export const ALL_ERRORS = [NotFoundError, ValidationError, ConflictError, ForbiddenError, PiiRejectedError];

type TypedError = (typeof ALL_ERRORS)[number];

/**
 * The `errors` option of a mutation: its success type and, in one union, the typed errors its
 * service can throw. Two are always among them: ForbiddenError, since every mutation is guarded
 * by authScopes, whose refusal is answered as this union's ForbiddenError (see builder.ts); and
 * ConflictError, since every write runs in the one transaction runner, which answers a write that
 * kept losing to concurrent writes of the same rows with it (src/modules/audit/service.ts).
 * An error outside the union would null the whole response, other fields' answers included.
 */
export const resultUnion = (name: string, ...types: Exclude<TypedError, typeof ForbiddenError | typeof ConflictError>[]) => ({
  types: [...types, ConflictError, ForbiddenError],
  directResult: true as const,
  union: { name },
});

/** Single lookups answer null with a NOT_FOUND error, for unknown and foreign ids alike. */
export function notFound(entity: string): never {
  throw new GraphQLError(`${entity} not found`, { extensions: { code: 'NOT_FOUND' } });
}
