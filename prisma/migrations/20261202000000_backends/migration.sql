-- Connected backends (SPEC §10.1): one Backend per kind per partner, its credential sealed with
-- SECRETS_KEY, and the SyncRun table its reads will fill. Written by prisma migrate diff.

-- CreateEnum
CREATE TYPE "BackendKind" AS ENUM ('LEARNING', 'CATALOG', 'MESSAGING', 'EMBED');

-- CreateEnum
CREATE TYPE "BackendStatus" AS ENUM ('HEALTHY', 'DEGRADED', 'FAILING', 'PAUSED');

-- CreateEnum
CREATE TYPE "LinkRule" AS ENUM ('KEY', 'EMAIL');

-- CreateEnum
CREATE TYPE "SyncRunStatus" AS ENUM ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED');

-- CreateTable
CREATE TABLE "Backend" (
    "id" UUID NOT NULL,
    "partnerId" TEXT NOT NULL,
    "kind" "BackendKind" NOT NULL,
    "baseUrl" TEXT NOT NULL,
    "credential" TEXT NOT NULL,
    "syncIntervalSeconds" INTEGER NOT NULL DEFAULT 300,
    "linkBy" "LinkRule"[] DEFAULT ARRAY['KEY', 'EMAIL']::"LinkRule"[],
    "status" "BackendStatus" NOT NULL DEFAULT 'HEALTHY',
    "lastSyncAt" TIMESTAMPTZ(3),
    "lastError" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Backend_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "SyncRun" (
    "id" UUID NOT NULL,
    "partnerId" TEXT NOT NULL,
    "backendId" UUID NOT NULL,
    "status" "SyncRunStatus" NOT NULL DEFAULT 'QUEUED',
    "full" BOOLEAN NOT NULL DEFAULT false,
    "startedAt" TIMESTAMPTZ(3),
    "finishedAt" TIMESTAMPTZ(3),
    "requests" INTEGER NOT NULL DEFAULT 0,
    "seen" INTEGER NOT NULL DEFAULT 0,
    "created" INTEGER NOT NULL DEFAULT 0,
    "updated" INTEGER NOT NULL DEFAULT 0,
    "linked" INTEGER NOT NULL DEFAULT 0,
    "gone" INTEGER NOT NULL DEFAULT 0,
    "conflicts" INTEGER NOT NULL DEFAULT 0,
    "errors" JSONB NOT NULL DEFAULT '[]',
    "checkpoint" JSONB,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "SyncRun_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Backend_partnerId_kind_key" ON "Backend"("partnerId", "kind");

-- CreateIndex
CREATE INDEX "SyncRun_backendId_id_idx" ON "SyncRun"("backendId", "id");

-- CreateIndex
CREATE INDEX "SyncRun_partnerId_createdAt_idx" ON "SyncRun"("partnerId", "createdAt");

-- AddForeignKey
ALTER TABLE "Backend" ADD CONSTRAINT "Backend_partnerId_fkey" FOREIGN KEY ("partnerId") REFERENCES "Account"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "SyncRun" ADD CONSTRAINT "SyncRun_backendId_fkey" FOREIGN KEY ("backendId") REFERENCES "Backend"("id") ON DELETE CASCADE ON UPDATE CASCADE;

