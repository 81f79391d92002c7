-- Identities with provenance and linking (SPEC §10.2, §10.7): one Identity per (backend,
-- entity, nativeId), the LinkConflicts linking records, and backends that are disconnected
-- softly (the row stays, so the identities it brought stay DETACHED on their users and still
-- name it; activeKind keeps one connected backend per kind per partner). Written by prisma
-- migrate diff (previous datamodel -> this one), plus the UPDATE that upgrades existing rows.

-- CreateEnum
CREATE TYPE "IdentityStatus" AS ENUM ('PENDING', 'LINKED', 'GONE', 'DETACHED');

-- CreateEnum
CREATE TYPE "IdentityEntity" AS ENUM ('USER', 'ACCOUNT', 'CLIENT');

-- CreateEnum
CREATE TYPE "LinkConflictStatus" AS ENUM ('OPEN', 'RESOLVED', 'DISMISSED');

-- DropIndex
DROP INDEX "Backend_partnerId_kind_key";

-- AlterTable
ALTER TABLE "Backend" ADD COLUMN     "activeKind" "BackendKind",
ADD COLUMN     "disconnectedAt" TIMESTAMPTZ(3);

-- Every backend stored before this release is connected.
UPDATE "Backend" SET "activeKind" = "kind";

-- CreateTable
CREATE TABLE "Identity" (
    "id" UUID NOT NULL,
    "partnerId" TEXT NOT NULL,
    "backendId" UUID NOT NULL,
    "kind" "BackendKind" NOT NULL,
    "stream" TEXT NOT NULL,
    "entity" "IdentityEntity" NOT NULL,
    "nativeId" TEXT NOT NULL,
    "key" TEXT,
    "email" TEXT,
    "status" "IdentityStatus" NOT NULL DEFAULT 'PENDING',
    "userId" UUID,
    "accountId" TEXT,
    "clientId" UUID,
    "data" JSONB NOT NULL,
    "dataHash" TEXT NOT NULL,
    "syncedAt" TIMESTAMPTZ(3) NOT NULL,
    "sourceUpdatedAt" TIMESTAMPTZ(3),
    "lastSeenRunId" UUID,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Identity_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "LinkConflict" (
    "id" UUID NOT NULL,
    "partnerId" TEXT NOT NULL,
    "identityId" UUID NOT NULL,
    "candidateIds" UUID[],
    "reason" TEXT NOT NULL,
    "status" "LinkConflictStatus" NOT NULL DEFAULT 'OPEN',
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "resolvedAt" TIMESTAMPTZ(3),

    CONSTRAINT "LinkConflict_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Identity_partnerId_status_entity_idx" ON "Identity"("partnerId", "status", "entity");

-- CreateIndex
CREATE INDEX "Identity_partnerId_key_idx" ON "Identity"("partnerId", "key");

-- CreateIndex
CREATE INDEX "Identity_partnerId_email_idx" ON "Identity"("partnerId", "email");

-- CreateIndex
CREATE INDEX "Identity_userId_idx" ON "Identity"("userId");

-- CreateIndex
CREATE INDEX "Identity_accountId_idx" ON "Identity"("accountId");

-- CreateIndex
CREATE INDEX "Identity_clientId_idx" ON "Identity"("clientId");

-- CreateIndex
CREATE UNIQUE INDEX "Identity_backendId_entity_nativeId_key" ON "Identity"("backendId", "entity", "nativeId");

-- CreateIndex
CREATE INDEX "LinkConflict_partnerId_status_id_idx" ON "LinkConflict"("partnerId", "status", "id");

-- CreateIndex
CREATE INDEX "LinkConflict_identityId_idx" ON "LinkConflict"("identityId");

-- CreateIndex
CREATE INDEX "Backend_partnerId_kind_idx" ON "Backend"("partnerId", "kind");

-- CreateIndex
CREATE UNIQUE INDEX "Backend_partnerId_activeKind_key" ON "Backend"("partnerId", "activeKind");

-- AddForeignKey
ALTER TABLE "Identity" ADD CONSTRAINT "Identity_backendId_fkey" FOREIGN KEY ("backendId") REFERENCES "Backend"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Identity" ADD CONSTRAINT "Identity_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Identity" ADD CONSTRAINT "Identity_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "Account"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Identity" ADD CONSTRAINT "Identity_clientId_fkey" FOREIGN KEY ("clientId") REFERENCES "Client"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LinkConflict" ADD CONSTRAINT "LinkConflict_identityId_fkey" FOREIGN KEY ("identityId") REFERENCES "Identity"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- EMAIL linking matches an embed user's metadata.email, lower-cased (src/modules/identities/linking.ts).
-- An expression index, so it is raw SQL here and a comment in schema.prisma.
CREATE INDEX "User_partnerId_metadata_email_idx" ON "User"("partnerId", lower("metadata"->>'email'));
