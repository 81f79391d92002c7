// The Error interface and the GraphQL face of the generic domain errors (src/errors.ts); a
// concept's own errors get theirs in its schema file (PiiRejectedError in users, the backend
// errors in backends). The error types are value types a Pothos/Relay subgraph usually defines
// too (same names, message and code): @shareable, so that a supergraph composes with such a
// subgraph.
import {
  ConflictError,
  type DomainError,
  ForbiddenError,
  NotFoundError,
  ValidationError,
  type FieldIssue,
} from '../errors.js';
import { GraphQLError } from 'graphql';
import { builder } from './builder.js';

export const ErrorInterface = builder.interfaceRef<DomainError>('Error').implement({
  description: 'An expected failure of a mutation: read `code` and `message`, or select a concrete type for details.',
  fields: (t) => ({
    message: t.exposeString('message', {
      description:
        'What went wrong, in English, for a person to read (it may change between releases; branch on `code`).',
    }),
    code: t.exposeString('code', {
      description:
        'The kind of failure, stable for programs: NOT_FOUND, VALIDATION, CONFLICT, FORBIDDEN, ' +
        'PII_REJECTED, BACKEND_UNAVAILABLE or UNSUPPORTED_BY_BACKEND (one per concrete type).',
    }),
  }),
});

const FieldIssueRef = builder.objectRef<FieldIssue>('FieldIssue').implement({
  description: 'One problem with one input field of a refused mutation.',
  shareable: true,
  fields: (t) => ({
    field: t.exposeString('field', { description: 'Path of the input field, e.g. `input.externalUserId`.' }),
    message: t.exposeString('message', {
      description: 'What is wrong with the field, e.g. "must be at most 255 characters".',
    }),
  }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  description:
    "An id or key names nothing the caller may see. Unknown, deleted and other partners' " +
    "records answer alike, so nothing outside the caller's reach is confirmed to exist.",
  interfaces: [ErrorInterface],
  shareable: true,
  isTypeOf: (value) => value instanceof NotFoundError,
  fields: (t) => ({
    entity: t.exposeString('entity', { description: 'The type of record that was not found, e.g. User or Account.' }),
  }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  description:
    'An input is malformed, out of range or inconsistent with another. ' +
    '`issues` names each offending field; nothing was changed.',
  interfaces: [ErrorInterface],
  shareable: true,
  isTypeOf: (value) => value instanceof ValidationError,
  fields: (t) => ({
    issues: t.field({
      type: [FieldIssueRef],
      description: 'One entry per problem, each naming its input field.',
      resolve: (e) => [...e.issues],
    }),
  }),
});

builder.objectType(ConflictError, {
  name: 'ConflictError',
  description:
    "The write clashes with what is stored: a key is taken, the record's state or a limit " +
    'forbids it, or concurrent writes kept winning. A partner-scoped key stays taken by ' +
    'a disabled or deleted user too; a merged user cannot be acted on as if it were not; ' +
    'after concurrent writes to the same rows, retrying may succeed. Nothing was changed.',
  interfaces: [ErrorInterface],
  shareable: true,
  isTypeOf: (value) => value instanceof ConflictError,
  fields: (t) => ({
    field: t.exposeString('field', {
      nullable: true,
      description: 'The input field whose key is already taken, when the conflict is about a key.',
    }),
    existingId: t.exposeString('existingId', {
      nullable: true,
      description: 'Native id of the record holding the key, when the caller may see it.',
    }),
  }),
});

builder.objectType(ForbiddenError, {
  name: 'ForbiddenError',
  description:
    'The caller lacks the rights or the plan this needs. `message` says what it needs (e.g. ' +
    'admin rights, partner admin rights, the AUTOMATE plan or above); nothing was changed.',
  interfaces: [ErrorInterface],
  shareable: true,
  isTypeOf: (value) => value instanceof ForbiddenError,
});

/** A typed error's class: what a result union lists. */
// biome-ignore lint/suspicious/noExplicitAny: the errors plugin's own type for an error class
type ErrorClass = new (...args: any[]) => DomainError;

/**
 * The `errors` option of a mutation: its success type and, in one union, the typed errors its
 * service can throw. Two are always among them: ForbiddenError, since every mutation is guarded
 * by authScopes, whose refusal is answered as this union's ForbiddenError (see builder.ts); and
 * ConflictError, since every write runs in the one transaction runner, which answers a write that
 * kept losing to concurrent writes of the same rows with it (src/modules/audit/service.ts).
 * An error outside the union would null the whole response, other fields' answers included.
 */
export const resultUnion = (name: string, ...types: ErrorClass[]) => ({
  types: [...types, ConflictError, ForbiddenError],
  directResult: true as const,
  union: {
    name,
    // The mutation's own description lists which errors and what each means (docs-plugin.ts).
    description:
      `What \`${mutationOf(name)}\` answers: its success type, or one of the typed errors (each ` +
      'implements `Error`: select `... on Error { code message }` to read any of them).',
  },
});

/** `CreateUserResult` → `createUser`. */
const mutationOf = (unionName: string) => unionName[0]!.toLowerCase() + unionName.slice(1).replace(/Result$/, '');

/** Single lookups answer null with a NOT_FOUND error, for unknown and foreign ids alike. */
export function notFound(entity: string): never {
  throw new GraphQLError(`${entity} not found`, { extensions: { code: 'NOT_FOUND' } });
}
