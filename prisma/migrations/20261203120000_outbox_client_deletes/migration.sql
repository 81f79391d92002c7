-- deleteClient of a client whose members are also in other connected backends (SPEC §10.4,
-- §10.7): the embed backend's DELETE client goes through the outbox with the members' deletes.
ALTER TYPE "PendingChangeOperation" ADD VALUE 'DELETE_CLIENT';
