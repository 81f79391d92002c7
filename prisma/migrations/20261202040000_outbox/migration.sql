-- The transactional outbox (SPEC §10.4, §10.7): one PendingChange per backend call of a change
-- that spans several backends, written in the change's own transaction and delivered in
-- `sequence` order per user by src/modules/outbox. Written by prisma migrate diff (previous
-- datamodel -> this one).
-- CreateEnum
CREATE TYPE "PendingChangeStatus" AS ENUM ('PENDING', 'FAILED');

-- CreateEnum
CREATE TYPE "PendingChangeOperation" AS ENUM ('DELETE_USER');

-- CreateTable
CREATE TABLE "PendingChange" (
    "id" UUID NOT NULL,
    "partnerId" TEXT NOT NULL,
    "userId" UUID NOT NULL,
    "backendId" UUID NOT NULL,
    "operation" "PendingChangeOperation" NOT NULL,
    "payload" JSONB NOT NULL,
    "status" "PendingChangeStatus" NOT NULL DEFAULT 'PENDING',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "lastError" TEXT,
    "nextAttemptAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sequence" SERIAL NOT NULL,
    "worker" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PendingChange_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "PendingChange_userId_sequence_idx" ON "PendingChange"("userId", "sequence");

-- CreateIndex
CREATE INDEX "PendingChange_partnerId_id_idx" ON "PendingChange"("partnerId", "id");

-- CreateIndex
CREATE INDEX "PendingChange_status_nextAttemptAt_idx" ON "PendingChange"("status", "nextAttemptAt");

-- AddForeignKey
ALTER TABLE "PendingChange" ADD CONSTRAINT "PendingChange_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PendingChange" ADD CONSTRAINT "PendingChange_backendId_fkey" FOREIGN KEY ("backendId") REFERENCES "Backend"("id") ON DELETE CASCADE ON UPDATE CASCADE;

