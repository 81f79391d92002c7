// Builds the subgraph schema. Importing a module's schema file registers its types; this
// file sits above every module, and nothing but the app imports it.
import { builder } from './graphql/builder.js';
import { checkRepresentations } from './graphql/entities.js';
import './graphql/errors.js';
import './graphql/enums.js';
import './modules/viewer/schema.js';
import './modules/accounts/schema.js';
import './modules/users/schema.js';
import './modules/clients/schema.js';
import './modules/entitlements/schema.js';
import './modules/courses/schema.js';
import './modules/partners/schema.js';
import './modules/audit/schema.js';
import './modules/backends/schema.js';
import './modules/sync/schema.js';
import './modules/identities/schema.js';
import './modules/outbox/schema.js';

export const schema = checkRepresentations(
  builder.toSubGraphSchema({
    // Pinned: composition and gateways read the federation version from this URL.
    linkUrl: 'https://specs.apollo.dev/federation/v2.6',
    federationDirectives: ['@key', '@shareable', '@tag', '@inaccessible'],
  }),
);
