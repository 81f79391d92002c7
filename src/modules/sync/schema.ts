// syncBackend: a partner admin asks for a sync run of one of its backends now (SPEC §10.3).
// The SyncRun node and Backend.syncRuns are in the backends module's schema.
import type { SyncRun } from '@prisma/client';
import { builder } from '../../graphql/builder.js';
import { resultUnion } from '../../graphql/errors.js';
import { idArg } from '../../graphql/mutations.js';
import { NotFoundError } from '../../errors.js';
import { SyncRunRef } from '../backends/schema.js';
import { syncBackend } from './service.js';

const SyncBackendSuccess = builder.objectRef<SyncRun>('SyncBackendSuccess').implement({
  description: 'The run that will read the backend: the new one, or the one already queued or running.',
  fields: (t) => ({
    run: t.field({
      type: SyncRunRef,
      description: 'Its status and counts change as it proceeds: read it again through node(id:) or Backend.syncRuns.',
      resolve: (run) => run,
    }),
  }),
});

const SyncBackendInput = builder.inputType('SyncBackendInput', {
  description: 'Which backend to read, and how much of it.',
  fields: (f) => ({
    id: f.id({ required: true, description: 'The Backend.' }),
    full: f.boolean({
      description:
        'Read every record (and mark what is no longer there GONE) instead of the changes since ' +
        'the last successful run. Default false; a backend never synced gets a full run anyway.',
    }),
  }),
});

builder.mutationField('syncBackend', (t) =>
  t.field({
    type: SyncBackendSuccess,
    description:
      'Queues a sync run of one backend (partner admins). A run already queued or running for it is ' +
      'answered instead of a second one; asking for a full run makes a queued incremental one full.',
    errors: resultUnion('SyncBackendResult', NotFoundError),
    authScopes: { partnerAdmin: true },
    args: {
      input: t.arg({
        type: SyncBackendInput,
        required: true,
        description: 'The backend, and whether to read it whole.',
      }),
    },
    resolve: (_root, { input }, ctx) => syncBackend(ctx, { id: idArg('Backend', input.id), full: input.full }),
  }),
);
