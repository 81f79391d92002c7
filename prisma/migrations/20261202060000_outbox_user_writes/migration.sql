-- Every change that lands in two or more connected backends goes through the outbox (SPEC §10.7
-- "Single vs several backends"), not only deleteUser: creates and updates of users too. An
-- in-place upgrade: existing entries (DELETE_USER) keep their meaning; the new column is null
-- for them. Written by prisma migrate diff (previous datamodel -> this one).
-- AlterEnum
ALTER TYPE "PendingChangeOperation" ADD VALUE 'CREATE_USER';
ALTER TYPE "PendingChangeOperation" ADD VALUE 'UPDATE_USER';

-- AlterTable
ALTER TABLE "PendingChange" ADD COLUMN "mustNotExist" JSONB;
