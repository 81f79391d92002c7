// What a mutation answers when it is refused: the ForbiddenError member of its result union
// (never a transport error that would null the whole document), with nothing written; the
// other fields of the same document keep their answers; a payload is readable by the
// principal that created it; and each union lists exactly the errors its mutation returns.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type GraphQLField,
  type GraphQLInputObjectType,
  type GraphQLObjectType,
  type GraphQLUnionType,
  getNamedType,
  isInputObjectType,
  isObjectType,
} from 'graphql';
import { schema } from '../src/schema.js';
import { OPERATOR_TOKEN, useHarness, type Partner } from './helpers/app.js';
import { jwtFor, newUser, run, subAccount } from './helpers/lifecycle.js';

const h = useHarness();
let a: Partner;
let b: Partner;
/**
 * In A's root account: a plain user, a victim, and an admin of `region` only (so its own account
 * is above its subtree).
 */
let plain: { user: any; token: string };
let victim: any;
let regional: { user: any; token: string };
let region: string;
let inRegion: any;
let bUser: any;

/** Everything of a partner a mutation could change, audit log included. */
async function dump(partnerId: string) {
  const p = h.store.prisma;
  const users = await p.user.findMany({ where: { partnerId }, orderBy: { id: 'asc' } });
  const userIds = users.map((u) => u.id);
  return JSON.stringify({
    accounts: await p.account.findMany({ where: { partnerId }, orderBy: { id: 'asc' } }),
    users,
    entitlements: await p.entitlement.findMany({ where: { userId: { in: userIds } }, orderBy: { id: 'asc' } }),
    admins: await p.accountAdmin.findMany({ where: { userId: { in: userIds } }, orderBy: { id: 'asc' } }),
    apiKeys: (await p.apiKey.findMany({ where: { partnerId }, orderBy: { id: 'asc' } })).map(
      ({ lastUsedAt: _, ...k }) => k,
    ),
    audit: await p.auditEvent.count({ where: { partnerId } }),
  });
}

beforeAll(async () => {
  if (!h.ready) return;
  a = await h.newPartner('Results A', 'AUTOMATE');
  b = await h.newPartner('Results B', 'AUTOMATE');
  const plainUser = await newUser(h, a.key, { externalUserId: 'res-plain' });
  plain = { user: plainUser, token: await jwtFor(plainUser.uuid) };
  victim = await newUser(h, a.key, { externalUserId: 'res-victim' });
  region = await subAccount(h, a, 'Results region');
  inRegion = await newUser(h, a.key, { externalUserId: 'res-in-region', accountId: region });
  const regionalUser = await newUser(h, a.key, { externalUserId: 'res-regional' });
  const added = await run(h, a.key, 'addAccountAdmin', { accountId: region, userId: regionalUser.id });
  expect(added.__typename).toBe('AddAccountAdminSuccess');
  regional = { user: regionalUser, token: await jwtFor(regionalUser.uuid) };
  bUser = await newUser(h, b.key, { externalUserId: 'res-b-user' });
});

/** A mutation as `token`; fails on any transport error, so a refusal must be typed to pass. */
const call = (token: string, name: string, input: Record<string, unknown>) => run(h, token, name, input);

describe('a refused mutation', () => {
  // Each case: the caller, the mutation, and an input it has no right to.
  const cases: [string, string, () => string, () => Record<string, unknown>][] = [
    ['a plain user', 'createUser', () => plain.token, () => ({ externalUserId: 'res-by-plain' })],
    ['a plain user', 'disableUser', () => plain.token, () => ({ id: victim.id })],
    ['a plain user', 'disableUser', () => plain.token, () => ({ id: plain.user.id })],
    [
      'a plain user',
      'grantEntitlements',
      () => plain.token,
      () => ({ userId: plain.user.id, kinds: ['PARTNER_ADMIN'] }),
    ],
    ['a plain user', 'createAccount', () => plain.token, () => ({ name: 'By plain' })],
    ['a plain user', 'createApiKey', () => plain.token, () => ({ name: 'by plain' })],
    ['a plain user', 'deleteUser', () => plain.token, () => ({ id: victim.id, action: 'DELETE' })],
    ['a plain user', 'mergeUsers', () => plain.token, () => ({ sourceId: victim.id, targetId: plain.user.id })],
    [
      'an account admin above its subtree',
      'createUser',
      () => regional.token,
      () => ({ externalUserId: 'res-by-regional', accountId: a.accountId }),
    ],
    ['an account admin above its subtree', 'disableUser', () => regional.token, () => ({ id: regional.user.id })],
    [
      'an account admin above its subtree',
      'grantEntitlements',
      () => regional.token,
      () => ({ userId: inRegion.id, kinds: ['PARTNER_ADMIN'] }),
    ],
    [
      'an account admin above its subtree',
      'grantEntitlements',
      () => regional.token,
      () => ({ userId: regional.user.id, kinds: ['CREATE_LEARNING_INSTANCE'] }),
    ],
    [
      'an account admin above its subtree',
      'createAccount',
      () => regional.token,
      () => ({ name: 'By regional', parentId: a.accountId }),
    ],
    [
      'an account admin above its subtree',
      'deleteUser',
      () => regional.token,
      () => ({ id: regional.user.id, action: 'DELETE' }),
    ],
    [
      'an account admin above its subtree',
      'mergeUsers',
      () => regional.token,
      () => ({ sourceId: inRegion.id, targetId: regional.user.id }),
    ],
    // The operator provisions partners and reads nothing of them: it is no admin of any.
    ['the operator', 'createApiKey', () => OPERATOR_TOKEN, () => ({ name: 'by operator' })],
    ['the operator', 'disableUser', () => OPERATOR_TOKEN, () => ({ id: victim.id })],
    ['a partner admin', 'createPartner', () => a.key, () => ({ name: 'By a partner' })],
  ];

  it.each(cases)('by %s: %s is a ForbiddenError and changes nothing', async (_who, name, token, input) => {
    const before = await dump(a.accountId);
    const result = await call(token(), name, input());
    expect(result).toMatchObject({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
    expect(result.message).toEqual(expect.any(String));
    expect(await dump(a.accountId)).toBe(before);
  });

  it('is still a 401 for a caller without credentials', async () => {
    const r = await h.gql('mutation { createApiKey(input: { name: "anon" }) { __typename } }');
    expect(r.status).toBe(401);
    expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('leaves the answers (and writes) of the other fields of its document', async () => {
    const plainDoc = await h.gql(
      `mutation ($self: ID!) {
        a: updateUser(input: { id: $self, firstName: "Kept" }) {
          __typename ... on UpdateUserSuccess { user { firstName } }
        }
        b: createUser(input: { externalUserId: "res-two-fields" }) { __typename ... on Error { code } }
      }`,
      { self: plain.user.id },
      { token: plain.token },
    );
    expect(plainDoc.errors).toBeUndefined();
    expect(plainDoc.data).toEqual({
      a: { __typename: 'UpdateUserSuccess', user: { firstName: 'Kept' } },
      b: { __typename: 'ForbiddenError', code: 'FORBIDDEN' },
    });
    expect((await h.store.prisma.user.findUniqueOrThrow({ where: { id: plain.user.uuid } })).firstName).toBe('Kept');
    expect(await h.store.prisma.user.count({ where: { externalUserId: 'res-two-fields' } })).toBe(0);

    // The service's own refusal (the account admin is an admin, but not of the root) too.
    const adminDoc = await h.gql(
      `mutation ($region: ID!, $root: ID!) {
        a: createUser(input: { externalUserId: "res-two-fields-region", accountId: $region }) {
          __typename ... on CreateUserSuccess { user { uuid } }
        }
        b: createAccount(input: { name: "Refused", parentId: $root }) { __typename ... on Error { code } }
      }`,
      { region, root: a.accountId },
      { token: regional.token },
    );
    expect(adminDoc.errors).toBeUndefined();
    expect(adminDoc.data.a.__typename).toBe('CreateUserSuccess');
    expect(adminDoc.data.b).toEqual({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
    expect(await h.store.prisma.user.count({ where: { id: adminDoc.data.a.user.uuid } })).toBe(1);

    // The operator's new partner (and its only copy of the key) survives a refused neighbour.
    const operatorDoc = await h.gql(
      `mutation {
        a: createPartner(input: { name: "Results C" }) {
          __typename ... on CreatePartnerSuccess { apiKey account { ulid } }
        }
        b: createApiKey(input: { name: "refused" }) { __typename ... on Error { code } }
      }`,
      {},
      { token: OPERATOR_TOKEN },
    );
    expect(operatorDoc.errors).toBeUndefined();
    expect(operatorDoc.data.b).toEqual({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
    const viewer = await h.gql('{ viewer { isAdmin partner { ulid } } }', {}, { token: operatorDoc.data.a.apiKey });
    expect(viewer.data.viewer).toEqual({ isAdmin: true, partner: { ulid: operatorDoc.data.a.account.ulid } });
  });

  it("across partners: B's admin acting on A's ids finds nothing, and A is unchanged", async () => {
    const before = await dump(a.accountId);
    const probes: [string, Record<string, unknown>][] = [
      ['createUser', { externalUserId: 'res-from-b', accountId: a.accountId }],
      ['disableUser', { id: victim.id }],
      ['grantEntitlements', { userId: victim.id, kinds: ['CREATE_LEARNING_INSTANCE'] }],
      ['createAccount', { name: 'From B', parentId: a.accountId }],
      ['deleteUser', { id: victim.id, action: 'DELETE' }],
      ['mergeUsers', { sourceId: victim.id, targetId: bUser.id }],
      ['mergeUsers', { sourceId: bUser.id, targetId: victim.id }],
    ];
    for (const [name, input] of probes) {
      const result = await call(b.key, name, input);
      expect(result.__typename, `${name} ${JSON.stringify(input)}`).toBe('NotFoundError');
      expect(result.code).toBe('NOT_FOUND');
    }
    expect(await dump(a.accountId)).toBe(before);
  });
});

/**
 * A selection of every field of `type`, `depth` levels deep: fields with required arguments
 * are left out, abstract types answer __typename (and their id when they are nodes).
 */
function everyField(type: GraphQLObjectType, depth: number): string {
  const fields = Object.values(type.getFields()).filter(
    (f: GraphQLField<unknown, unknown>) =>
      !f.args.some((arg) => arg.type.toString().endsWith('!') && arg.defaultValue === undefined),
  );
  return fields
    .map((f) => {
      const named = getNamedType(f.type);
      if (!('getFields' in named)) return f.name;
      if (!isObjectType(named)) return `${f.name} { __typename }`;
      return depth > 1 ? `${f.name} { ${everyField(named, depth - 1)} }` : `${f.name} { __typename }`;
    })
    .join(' ');
}

describe('createPartner', () => {
  it('answers every field of its payload to the operator that created it', async () => {
    const payload = schema.getType('CreatePartnerSuccess') as GraphQLObjectType;
    const selection = everyField(payload, 3);
    expect(selection).toContain('apiKeyInfo {');
    const r = await h.gql(
      'mutation { createPartner(input: { name: "Results D", plan: ENTERPRISE }) ' +
        `{ __typename ... on CreatePartnerSuccess { ${selection} } } }`,
      {},
      { token: OPERATOR_TOKEN },
    );
    expect(r.errors).toBeUndefined();
    const created = r.data.createPartner;
    expect(created.__typename).toBe('CreatePartnerSuccess');
    expect(created.apiKey).toMatch(/^agk_/);
    expect(created.apiKeyInfo).toMatchObject({
      name: 'initial',
      revokedAt: null,
      principal: { uuid: created.adminUser.uuid },
    });
    expect(created.apiKey.startsWith(created.apiKeyInfo.prefix)).toBe(true);
    expect(created.account).toMatchObject({ name: 'Results D', plan: 'ENTERPRISE' });
    expect(created.adminUser.partner.ulid).toBe(created.account.ulid);
    // Reading its own answer gives the operator no way into the tenant.
    const node = await h.gql(
      'query ($id: ID!) { node(id: $id) { id } }',
      { id: created.apiKeyInfo.id },
      { token: OPERATOR_TOKEN },
    );
    expect(node.data.node).toBeNull();
  });
});

describe('a payload', () => {
  // What an account admin creates sits in its subtree, below accounts it cannot see: every
  // field must still answer (null where it points above), or a committed write loses its answer.
  const cases: [string, string, () => string, () => Record<string, unknown>][] = [
    ['an account admin', 'createAccount', () => regional.token, () => ({ name: 'Regional child', parentId: region })],
    [
      'an account admin',
      'createUser',
      () => regional.token,
      () => ({ externalUserId: 'res-payload-region', accountId: region }),
    ],
    [
      'an account admin',
      'grantEntitlements',
      () => regional.token,
      () => ({ userId: inRegion.id, kinds: ['CREATE_LEARNING_INSTANCE'] }),
    ],
    ['an account admin', 'createApiKey', () => regional.token, () => ({ name: 'regional key' })],
    ['a plain user', 'updateUser', () => plain.token, () => ({ id: plain.user.id, lastName: 'Payload' })],
  ];

  it.each(cases)('answers every field to %s: %s', async (_who, name, token, input) => {
    const payload = schema.getType(`${name[0]!.toUpperCase()}${name.slice(1)}Success`) as GraphQLObjectType;
    const inputType = `${name[0]!.toUpperCase()}${name.slice(1)}Input`;
    const r = await h.gql(
      `mutation ($input: ${inputType}!) { ${name}(input: $input) ` +
        `{ __typename ... on ${payload.name} { ${everyField(payload, 3)} } } }`,
      { input: input() },
      { token: token() },
    );
    expect(r.errors).toBeUndefined();
    expect(r.data[name].__typename).toBe(payload.name);
  });
});

describe('result unions', () => {
  const F = 'ForbiddenError';
  const N = 'NotFoundError';
  const V = 'ValidationError';
  const C = 'ConflictError';
  const P = 'PiiRejectedError';
  // A connected backend's verdicts (SPEC §10.4), where the mutation writes through to one:
  // unreachable where it calls a backend, unsupported where a backend's API lacks the call.
  const B = 'BackendUnavailableError';
  const U = 'UnsupportedByBackendError';
  // What each service can throw: every mutation can be refused; NotFound where an id is looked
  // up; Validation where input is checked; Conflict everywhere (a key or a state can clash, and
  // the one transaction runner answers a write that kept losing to concurrent ones with it);
  // PiiRejected only where an externalUserId is written.
  const expected: Record<string, string[]> = {
    createPartner: [V, C, F],
    createAccount: [N, V, C, F, B, U],
    updateAccount: [N, V, C, F],
    addAccountAdmin: [N, C, F],
    removeAccountAdmin: [N, C, F],
    createUser: [N, V, C, F, P, B, U],
    createUsers: [V, C, F],
    ensureUser: [N, V, C, F, P, B, U],
    updateUser: [N, V, C, F, P, B, U],
    disableUser: [N, V, C, F, B, U],
    enableUser: [N, C, F, U],
    mergeUsers: [N, V, C, F],
    unmergeUser: [N, V, C, F, B, U],
    reallocateCourses: [N, V, C, F],
    deleteUser: [N, V, C, F, B, U],
    deleteUserDependencies: [N, V, C, F, B, U],
    grantEntitlements: [N, V, C, F],
    revokeEntitlements: [N, V, C, F],
    upsertClient: [N, V, C, F, B, U],
    deleteClient: [N, V, C, F, B, U],
    createApiKey: [V, C, F],
    revokeApiKey: [N, C, F],
    resetAccountIpAccess: [N, C, F],
    createCourse: [N, V, C, F],
    enrollUser: [N, C, F],
    recordOrder: [N, V, C, F],
    connectBackend: [V, C, F],
    updateBackend: [N, V, C, F],
    disconnectBackend: [N, C, F],
    syncBackend: [N, C, F],
    dismissLinkConflict: [N, C, F],
    linkIdentity: [N, C, F],
    unlinkIdentity: [N, C, F],
    retryChange: [N, C, F],
    dropChange: [N, C, F],
  };

  // The converse — a mutation never throws a typed error its union leaves out — is checked where
  // mutations are driven into their failures: test/fuzz-graphql.test.ts (every mutation, hostile
  // inputs: no typed error ever answers as a top-level error) and test/write-through.test.ts
  // (the backends' verdicts).
  it('list PiiRejectedError exactly where the input carries an externalUserId', () => {
    for (const field of Object.values(schema.getMutationType()!.getFields())) {
      const input = getNamedType(field.args[0]!.type) as GraphQLInputObjectType;
      const carries = (type: GraphQLInputObjectType, seen = new Set<string>()): boolean =>
        !seen.has(type.name) &&
        Object.values(type.getFields()).some((f) => {
          const named = getNamedType(f.type);
          return f.name === 'externalUserId' || (isInputObjectType(named) && carries(named, seen.add(type.name)));
        });
      const members = (getNamedType(field.type) as GraphQLUnionType).getTypes().map((t) => t.name);
      // createUsers answers an item's PiiRejectedError in that item's result, not as its own.
      if (field.name === 'createUsers') continue;
      expect(members.includes(P), field.name).toBe(carries(input));
    }
  });

  it('list exactly the errors each mutation can return', () => {
    const mutation = schema.getMutationType()!;
    const actual = Object.fromEntries(
      Object.values(mutation.getFields()).map((f) => {
        const union = getNamedType(f.type) as GraphQLUnionType;
        return [
          f.name,
          union
            .getTypes()
            .map((t) => t.name)
            .filter((n) => n.endsWith('Error'))
            .sort(),
        ];
      }),
    );
    expect(actual).toEqual(Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, [...v].sort()])));
    // One bulk item can fail in every way a createUser can, a connected backend's verdicts
    // included (each item writes through as createUser does).
    const items = getNamedType(
      (schema.getType('CreateUsersSuccess') as GraphQLObjectType).getFields().results!.type,
    ) as GraphQLUnionType;
    expect(
      items
        .getTypes()
        .map((t) => t.name)
        .filter((n) => n.endsWith('Error'))
        .sort(),
    ).toEqual([...expected.createUser!].sort());
  });
});
