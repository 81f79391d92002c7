// Every dialect is a view of the same rows: a record created through one is visible in the
// graph and in every other dialect it has an identity in, and a change made through one is
// seen by all.
import { beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Partner } from '../helpers/app.js';
import { mutate } from '../helpers/fixtures.js';
import { graph, rest } from './helpers.js';

const h = useHarness();
let partner: Partner;
let other: Partner;

const USER =
  'uuid status externalUserId catalogId email identifier metadata ' +
  'mergedInto { uuid catalogId } account { ulid customerId }';

const learning = (method: string, path: string, json?: unknown, key = partner.key) =>
  rest(h, method, `/rest/learning${path}`, { token: key, json });
const catalog = (method: string, path: string, form?: Record<string, string>, key = partner.key) =>
  rest(h, method, `/rest/catalog/api/v1${path}`, { authorization: key, form });
const embed = (method: string, path: string, json?: unknown, key = partner.key) =>
  rest(h, method, `/rest/embed/v1/headless${path}`, { token: key, json });
const messaging = (method: string, path: string, json?: unknown, key = partner.key) =>
  rest(h, method, `/rest/messaging/api/v1${path}`, { token: key, json });

const userByUuid = async (uuid: string) =>
  (await graph(h, partner.key, `query ($id: ID!) { user(id: $id) { ${USER} } }`, { id: uuid })).user;

beforeAll(async () => {
  if (!h.ready) return;
  partner = await h.newPartner('Cross A', 'AUTOMATE');
  other = await h.newPartner('Cross B', 'AUTOMATE');
});

describe('catalog registration merged with a learning account', () => {
  it('shows both ids on the merged user in the graph, the learning and the catalog dialect', async () => {
    const registered = await catalog('POST', '/users', {
      user_name: 'mia',
      email_address: 'mia@example.com',
      first_name: 'Mia',
    });
    expect(registered.status).toBe(200);
    const catalogId: number = registered.body.user.id;
    const learner = await learning('POST', '/accounts', { external_user_id: 'mia-learner' });
    expect(learner.status).toBe(200);

    const byCatalog = (
      await graph(h, partner.key, `query ($id: Int!) { userByKey(catalogId: $id) { ${USER} } }`, { id: catalogId })
    ).userByKey;
    expect(byCatalog).toMatchObject({ catalogId, email: 'mia@example.com', externalUserId: null });

    const merged = await mutate(h, partner.key, 'mergeUsers', { sourceId: learner.body.id, targetId: byCatalog.uuid });
    expect(merged.__typename).toBe('MergeUsersSuccess');

    // The graph: one user with both identities; the source points at it.
    expect(await userByUuid(byCatalog.uuid)).toMatchObject({
      status: 'ACTIVE',
      externalUserId: 'mia-learner',
      catalogId,
      email: 'mia@example.com',
    });
    expect(await userByUuid(learner.body.id)).toMatchObject({
      status: 'MERGED',
      externalUserId: null,
      mergedInto: { uuid: byCatalog.uuid, catalogId },
    });

    // The learning dialect finds the learning key on the target's uuid.
    expect((await learning('GET', `/accounts/${byCatalog.uuid}`)).body).toEqual({
      id: byCatalog.uuid,
      external_user_id: 'mia-learner',
    });
    // The catalog dialect shows the same person under its catalog id.
    const shown = await catalog('GET', `/users/${catalogId}`);
    expect(shown.body.user).toMatchObject({
      id: catalogId,
      email_address: 'mia@example.com',
      first_name: 'Mia',
      merged_into_user_id: null,
    });
    // The learning key is taken by the merged user: creating it again is a duplicate of the key.
    const again = await learning('POST', '/accounts', { external_user_id: 'mia-learner' });
    expect(again.body).toEqual({ code: 422, error_message: 'Duplicate account with mia-learner' });
  });

  it('a catalog user merged into a learning account points at the catalog identity the target gained', async () => {
    const learner = await learning('POST', '/accounts', { external_user_id: 'leo-learner' });
    const registered = await catalog('POST', '/users', { user_name: 'leo', email_address: 'leo@example.com' });
    const sourceUuid = (
      await graph(h, partner.key, `query ($id: Int!) { userByKey(catalogId: $id) { uuid } }`, {
        id: registered.body.user.id,
      })
    ).userByKey.uuid;
    expect(
      (await mutate(h, partner.key, 'mergeUsers', { sourceId: sourceUuid, targetId: learner.body.id })).__typename,
    ).toBe('MergeUsersSuccess');

    const target = await userByUuid(learner.body.id);
    expect(target).toMatchObject({
      externalUserId: 'leo-learner',
      email: 'leo@example.com',
      catalogId: expect.any(Number),
    });
    const source = await catalog('GET', `/users/${registered.body.user.id}`);
    expect(source.body.user.merged_into_user_id).toBe(target.catalogId);
    const gained = await catalog('GET', `/users/${target.catalogId}`);
    expect(gained.body.user).toMatchObject({
      id: target.catalogId,
      email_address: 'leo@example.com',
      user_name: 'leo',
    });
    // Partner B sees none of it, through any dialect.
    expect((await catalog('GET', `/users/${target.catalogId}`, undefined, other.key)).status).toBe(404);
    expect((await learning('GET', `/accounts/${learner.body.id}`, undefined, other.key)).status).toBe(404);
  });
});

describe('one user with three identities', () => {
  it('created in the graph, seen by learning, catalog and embed; deleted through catalog, gone from all', async () => {
    await embed('PUT', '/client/tri-client', { metadata: {} });
    const created = await mutate(
      h,
      partner.key,
      'createUser',
      {
        externalUserId: 'tri-1',
        email: 'tri@example.com',
        userName: 'tri',
        identifier: 'tri-embed',
        clientIdentifier: 'tri-client',
        name: 'Tri',
      },
      `... on CreateUserSuccess { user { ${USER} } }`,
    );
    const user = created.user;
    expect((await learning('GET', `/accounts/${user.uuid}`)).body).toEqual({
      id: user.uuid,
      external_user_id: 'tri-1',
    });
    expect((await catalog('GET', `/users/${user.catalogId}`)).body.user).toMatchObject({
      email_address: 'tri@example.com',
      user_name: 'tri',
    });
    expect((await embed('GET', '/user/tri-embed')).body).toMatchObject({
      identifier: 'tri-embed',
      clientIdentifier: 'tri-client',
      metadata: { name: 'Tri' },
    });

    // A change through one dialect is seen by the others.
    await embed('PUT', '/user/tri-embed', { metadata: { level: 4 } });
    expect((await userByUuid(user.uuid)).metadata).toEqual({ name: 'Tri', level: 4 });
    await catalog('PUT', `/users/${user.catalogId}`, { first_name: 'Trinity' });
    expect(
      (await graph(h, partner.key, `query ($id: ID!) { user(id: $id) { firstName } }`, { id: user.uuid })).user
        .firstName,
    ).toBe('Trinity');
    expect((await learning('DELETE', `/accounts/${user.uuid}`)).status).toBe(204);
    expect((await catalog('GET', `/users/${user.catalogId}`)).status).toBe(200);
    expect((await embed('GET', '/user/tri-embed')).status).toBe(200);
    expect((await userByUuid(user.uuid)).status).toBe('DISABLED');

    expect((await catalog('DELETE', `/users/${user.catalogId}`)).status).toBe(200);
    expect((await learning('GET', `/accounts/${user.uuid}`)).status).toBe(404);
    expect((await embed('GET', '/user/tri-embed')).status).toBe(404);
    const { data } = await h.gql(
      `query ($id: ID!) { user(id: $id) { uuid } }`,
      { id: user.uuid },
      { token: partner.key },
    );
    expect(data.user).toBeNull();
  });

  it(`an embed user created over REST is the graph user, \
and the learning dialect shows it without a learning key`, async () => {
    const res = await embed('PUT', '/user/only-embed', { name: 'Solo' });
    expect(res.status).toBe(201);
    const data = await graph(h, partner.key, `{ userByKey(identifier: "only-embed") { ${USER} name } }`);
    expect(data.userByKey).toMatchObject({
      identifier: 'only-embed',
      name: 'Solo',
      externalUserId: null,
      catalogId: null,
    });
    expect((await learning('GET', `/accounts/${data.userByKey.uuid}`)).body).toEqual({
      id: data.userByKey.uuid,
      external_user_id: null,
    });
  });
});

describe('messaging accounts in the graph and the catalog', () => {
  it('a messaging sub-account is the graph account and the catalog registered_account_id', async () => {
    const created = await messaging('POST', '/accounts', {
      data: { name: 'Cross sub', lrn_access: true, sms_access: 'INTERNATIONAL' },
      type: 'account',
    });
    expect(created.status).toBe(201);
    const { id: ulid, customer_id: customerId } = created.body.data;
    const account = (
      await graph(
        h,
        partner.key,
        `query ($id: ID!) { account(id: $id) { ulid customerId name lrnAccess smsAccess parent { ulid } } }`,
        { id: ulid },
      )
    ).account;
    expect(account).toEqual({
      ulid,
      customerId,
      name: 'Cross sub',
      lrnAccess: true,
      smsAccess: 'INTERNATIONAL',
      parent: { ulid: partner.accountId },
    });

    const registered = await catalog('POST', '/users', {
      user_name: 'sub',
      email_address: 'cross-sub@example.com',
      registered_account_id: String(customerId),
    });
    expect(registered.body.user.registered_account_id).toBe(customerId);
    const root = (await messaging('GET', `/accounts/${partner.accountId}`)).body.data;
    expect(registered.body.user.root_account_id).toBe(root.customer_id);
    const user = (
      await graph(h, partner.key, `query ($id: Int!) { userByKey(catalogId: $id) { account { ulid } } }`, {
        id: registered.body.user.id,
      })
    ).userByKey;
    expect(user.account.ulid).toBe(ulid);

    // An account updated in the graph reads the same in the messaging dialect.
    expect(
      (
        await mutate(h, partner.key, 'updateAccount', {
          id: ulid,
          name: 'Renamed',
          smsAccess: 'DOMESTIC',
          legacyAccess: true,
        })
      ).__typename,
    ).toBe('UpdateAccountSuccess');
    expect((await messaging('GET', `/accounts/${ulid}`)).body.data).toMatchObject({
      name: 'Renamed',
      sms_access: 'DOMESTIC',
      lrn_access: true,
      legacy_access: true,
    });
    // Another partner cannot register users into it.
    const foreign = await catalog(
      'POST',
      '/users',
      { user_name: 'x', email_address: 'cross-x@example.com', registered_account_id: String(customerId) },
      other.key,
    );
    expect(foreign.status).toBe(404);
  });
});

describe('racing creates through the dialects', () => {
  it('end in one row and conflicts, never a 500', async () => {
    const learners = await Promise.all(
      Array.from({ length: 8 }, () => learning('POST', '/accounts', { external_user_id: 'race-learner' })),
    );
    expect(learners.map((r) => r.status).sort()).toEqual([200, 422, 422, 422, 422, 422, 422, 422]);
    for (const r of learners.filter((x) => x.status === 422))
      expect(r.body.error_message).toBe('Duplicate account with race-learner');

    const registrations = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        catalog('POST', '/users', { user_name: `r${i}`, email_address: 'race@example.com' }),
      ),
    );
    expect(registrations.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409, 409, 409, 409]);

    const puts = await Promise.all(
      Array.from({ length: 8 }, (_, i) => embed('PUT', '/user/race-embed', { metadata: { [`k${i}`]: i } })),
    );
    expect(puts.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    // Every PUT merged into the one user: no key was lost.
    const merged = (await embed('GET', '/user/race-embed')).body.metadata;
    expect(Object.keys(merged).sort()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7']);
  });
});
