// The store's enums as GraphQL enums, registered once for every module to use. Each value is
// described in a map typed by the store's enum: a value added to the Prisma schema does not
// compile here until it is described.
import { AccountStatus, CoverageAccess, EntitlementKind, Plan, UserStatus } from '@prisma/client';
import { builder } from './builder.js';

function storeEnum<E extends Record<string, string>>(
  name: string,
  description: string,
  values: E,
  meaning: { [K in keyof E]: string },
) {
  type Values = { [K in keyof E]: { value: E[K]; description: string } };
  const config = Object.fromEntries(
    Object.entries(values).map(([key, value]) => [key, { value, description: meaning[key as keyof E] }]),
  ) as Values;
  return builder.enumType<string, Values>(name, { description, values: config });
}

export const UserStatusEnum = storeEnum('UserStatus', 'Where a user is in its lifecycle.', UserStatus, {
  ACTIVE: 'Usable: can authenticate and be acted on.',
  DISABLED:
    'Inactive (`disabledAt` says since when): cannot authenticate, stays readable by admins, ' +
    'and its keys cannot be taken by a new user. enableUser makes it ACTIVE again.',
  MERGED: 'Merged into another user (`mergedInto`); still readable by id. unmergeUser makes it ACTIVE again.',
  DELETED:
    'Deleted: no read answers it any more (NOT_FOUND) and its keys stay taken; as a filter value it matches no one.',
});

export const EntitlementKindEnum = storeEnum(
  'EntitlementKind',
  'A capability that can be granted to a user (grantEntitlements). PARTNER_ADMIN and ALL give admin rights ' +
    'over the whole partner; the others are capabilities of the learning platform, recorded and shown by its ' +
    'dialect (as lower-case strings, e.g. "create_learning_instance") and giving no rights in this gateway.',
  EntitlementKind,
  {
    ALL: 'Every capability, admin rights over the whole partner included.',
    KNERD: 'The learning platform\'s "knerd" capability.',
    PARTNER_ADMIN: 'Admin rights over the whole partner: every account, user and client in it.',
    PARTNER_INVENTORY_ACCESS: "May read the partner's inventory on the learning platform.",
    PARTNER_GRAPH_UPDATE: "May update the partner's graph on the learning platform.",
    PARTNER_GRAPH_INGEST: "May ingest into the partner's graph on the learning platform.",
    PARTNER_GRAPH_VALIDATE: "May validate the partner's graph on the learning platform.",
    CREATE_LEARNING_INSTANCE: 'May create learning instances on the learning platform.',
  },
);

export const PlanEnum = storeEnum(
  'Plan',
  'The embed plan tier of a partner, which gates embed operations: ' +
    'CORE and above read and update, AUTOMATE and above delete clients and embed users.',
  Plan,
  {
    CORE: 'The base tier (the default): embed reads and updates.',
    AUTOMATE: 'CORE, plus deleting embed clients and users.',
    ENTERPRISE: 'Everything AUTOMATE allows; the highest tier.',
  },
);

export const CoverageAccessEnum = storeEnum(
  'CoverageAccess',
  "How far an account may send messages of one kind (the messaging API's sms_access / mms_access).",
  CoverageAccess,
  {
    NONE: 'Not at all.',
    DOMESTIC: 'Within its own country only.',
    INTERNATIONAL: 'Within its own country and abroad.',
  },
);

export const AccountStatusEnum = storeEnum('AccountStatus', 'Whether an account is in use.', AccountStatus, {
  ACTIVE: 'In use.',
  DISABLED: 'Switched off; still readable by its admins.',
});
