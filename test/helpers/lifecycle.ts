// Helpers for the lifecycle tests: typed-error selections, a JWT for any user, account
// admins, and short user reads.
import type { Harness, Partner } from './app.js';
import { hs256 } from './jwt.js';
import { mutate, USER_FIELDS } from './fixtures.js';

export { USER_FIELDS };

/**
 * Every typed error's details. PiiRejectedError.field is non-null while ConflictError.field
 * is nullable: GraphQL refuses the two under one response name, hence the alias. Spread
 * inside `... on Error`: a union lists only the errors its mutation can return, and a
 * fragment on a type outside it would not validate.
 */
export const ERRORS = `... on Error {
  ... on ValidationError { issues { field message } }
  ... on ConflictError { field existingId }
  ... on PiiRejectedError { piiField: field rule }
  ... on NotFoundError { entity } }`;

/** An HS256 JWT whose subject is the user's uuid (the harness configures JWT_SECRET). */
export function jwtFor(userUuid: string): Promise<string> {
  return hs256(userUuid, { expiresIn: '1h' });
}

/** A mutation with the typed-error details and `selection`. */
export function run(
  h: Harness,
  token: string,
  name: string,
  input: Record<string, unknown>,
  selection = '',
): Promise<any> {
  return mutate(h, token, name, input, `${ERRORS} ${selection}`);
}

/** createUser; returns the union value (user with USER_FIELDS on success). */
export function createUser(
  h: Harness,
  token: string,
  input: Record<string, unknown>,
  fields = USER_FIELDS,
): Promise<any> {
  return run(h, token, 'createUser', input, `... on CreateUserSuccess { user { ${fields} } }`);
}

/** createUser that must succeed; returns the user. */
export async function newUser(
  h: Harness,
  token: string,
  input: Record<string, unknown>,
  fields = USER_FIELDS,
): Promise<any> {
  const result = await createUser(h, token, input, fields);
  if (result.__typename !== 'CreateUserSuccess') throw new Error(`createUser failed: ${JSON.stringify(result)}`);
  return result.user;
}

/** user(id) as the given caller: the user, or null (with the GraphQL error code). */
export async function readUser(
  h: Harness,
  token: string,
  id: string,
  fields = USER_FIELDS,
): Promise<{ user: any; code?: string }> {
  const { data, errors } = await h.gql(`query ($id: ID!) { user(id: $id) { ${fields} } }`, { id }, { token });
  return { user: data?.user ?? null, code: errors?.[0]?.extensions?.code };
}

/** The user row as stored, bypassing every filter (to prove what a refused call left alone). */
export function rawUser(h: Harness, uuid: string) {
  return h.store.prisma.user.findUnique({
    where: { id: uuid },
    include: { entitlements: true, courses: true, enrollments: true, orders: true },
  });
}

/** A user of `partner` that administers `accountId` (addAccountAdmin), with a JWT. */
export async function accountAdmin(h: Harness, partner: Partner, accountId: string, externalUserId: string) {
  const user = await newUser(h, partner.key, { externalUserId, accountId });
  const added = await run(h, partner.key, 'addAccountAdmin', { accountId, userId: user.id });
  if (added.__typename !== 'AddAccountAdminSuccess')
    throw new Error(`addAccountAdmin failed: ${JSON.stringify(added)}`);
  return { user, token: await jwtFor(user.uuid) };
}

/** A sub-account of the partner; returns its ULID. */
export async function subAccount(h: Harness, partner: Partner, name: string): Promise<string> {
  const r = await mutate(
    h,
    partner.key,
    'createAccount',
    { name },
    '... on CreateAccountSuccess { account { ulid } } ... on Error { message }',
  );
  if (r.__typename !== 'CreateAccountSuccess') throw new Error(`createAccount failed: ${JSON.stringify(r)}`);
  return r.account.ulid;
}

export async function createCourse(h: Harness, token: string, ownerId: string, title = 'Course'): Promise<string> {
  const r = await run(h, token, 'createCourse', { ownerId, title }, '... on CreateCourseSuccess { course { id } }');
  if (r.__typename !== 'CreateCourseSuccess') throw new Error(`createCourse failed: ${JSON.stringify(r)}`);
  return r.course.id;
}

export async function enroll(h: Harness, token: string, userId: string, courseId: string): Promise<any> {
  return run(h, token, 'enrollUser', { userId, courseId }, '... on EnrollUserSuccess { enrollment { id } }');
}

export async function order(
  h: Harness,
  token: string,
  userId: string,
  courseId: string | null,
  amountCents = 1000,
): Promise<any> {
  return run(
    h,
    token,
    'recordOrder',
    { userId, courseId, amountCents },
    '... on RecordOrderSuccess { order { id amountCents } }',
  );
}
