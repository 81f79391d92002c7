-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "Plan" AS ENUM ('CORE', 'AUTOMATE', 'ENTERPRISE');

-- CreateEnum
CREATE TYPE "CoverageAccess" AS ENUM ('NONE', 'DOMESTIC', 'INTERNATIONAL');

-- CreateEnum
CREATE TYPE "AccountStatus" AS ENUM ('ACTIVE', 'DISABLED');

-- CreateEnum
CREATE TYPE "UserStatus" AS ENUM ('ACTIVE', 'DISABLED', 'MERGED', 'DELETED');

-- CreateEnum
CREATE TYPE "EntitlementKind" AS ENUM ('ALL', 'KNERD', 'PARTNER_ADMIN', 'PARTNER_INVENTORY_ACCESS', 'PARTNER_GRAPH_UPDATE', 'PARTNER_GRAPH_INGEST', 'PARTNER_GRAPH_VALIDATE', 'CREATE_LEARNING_INSTANCE');

-- CreateTable
CREATE TABLE "Account" (
    "id" TEXT NOT NULL,
    "customerId" SERIAL NOT NULL,
    "partnerId" TEXT NOT NULL,
    "parentId" TEXT,
    "ancestorIds" TEXT[],
    "name" TEXT NOT NULL,
    "plan" "Plan",
    "canvasUuid" TEXT NOT NULL,
    "legacyAccess" "CoverageAccess" NOT NULL DEFAULT 'NONE',
    "lrnAccess" "CoverageAccess" NOT NULL DEFAULT 'NONE',
    "smsAccess" "CoverageAccess" NOT NULL DEFAULT 'NONE',
    "mmsAccess" "CoverageAccess" NOT NULL DEFAULT 'NONE',
    "requireIpApiAccess" BOOLEAN NOT NULL DEFAULT false,
    "requireIpGqlAccess" BOOLEAN NOT NULL DEFAULT false,
    "allowedIps" TEXT[],
    "status" "AccountStatus" NOT NULL DEFAULT 'ACTIVE',
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Account_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "User" (
    "id" UUID NOT NULL,
    "partnerId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "status" "UserStatus" NOT NULL DEFAULT 'ACTIVE',
    "mergedIntoId" UUID,
    "externalUserId" TEXT,
    "inCatalog" BOOLEAN NOT NULL DEFAULT false,
    "catalogId" SERIAL NOT NULL,
    "canvasUserId" INTEGER,
    "canvasUserUuid" TEXT,
    "userName" TEXT,
    "firstName" TEXT,
    "lastName" TEXT,
    "email" TEXT,
    "customFields" JSONB,
    "timeZone" TEXT,
    "locale" TEXT,
    "termsOfUse" BOOLEAN NOT NULL DEFAULT false,
    "identifier" TEXT,
    "clientId" UUID,
    "metadata" JSONB,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,
    "disabledAt" TIMESTAMPTZ(3),
    "deletedAt" TIMESTAMPTZ(3),

    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Client" (
    "id" UUID NOT NULL,
    "partnerId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "identifier" TEXT NOT NULL,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Client_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Entitlement" (
    "id" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "kind" "EntitlementKind" NOT NULL,
    "grantedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "grantedById" UUID,

    CONSTRAINT "Entitlement_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Course" (
    "id" UUID NOT NULL,
    "partnerId" TEXT NOT NULL,
    "ownerId" UUID,
    "title" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Course_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Enrollment" (
    "id" UUID NOT NULL,
    "partnerId" TEXT NOT NULL,
    "userId" UUID NOT NULL,
    "courseId" UUID NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Enrollment_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Order" (
    "id" UUID NOT NULL,
    "partnerId" TEXT NOT NULL,
    "userId" UUID NOT NULL,
    "courseId" UUID,
    "amountCents" INTEGER NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Order_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AccountAdmin" (
    "id" UUID NOT NULL,
    "accountId" TEXT NOT NULL,
    "userId" UUID NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AccountAdmin_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ApiKey" (
    "id" UUID NOT NULL,
    "partnerId" TEXT NOT NULL,
    "principalId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" TIMESTAMPTZ(3),
    "revokedAt" TIMESTAMPTZ(3),
    "lastUsedAt" TIMESTAMPTZ(3),

    CONSTRAINT "ApiKey_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AuditEvent" (
    "id" UUID NOT NULL,
    "partnerId" TEXT,
    "actorKind" TEXT NOT NULL,
    "actorId" TEXT,
    "action" TEXT NOT NULL,
    "subjectType" TEXT NOT NULL,
    "subjectId" TEXT NOT NULL,
    "data" JSONB,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AuditEvent_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "IdempotencyRecord" (
    "partnerId" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "operation" TEXT NOT NULL,
    "response" JSONB NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "IdempotencyRecord_pkey" PRIMARY KEY ("partnerId","key")
);

-- CreateIndex
CREATE UNIQUE INDEX "Account_customerId_key" ON "Account"("customerId");

-- CreateIndex
CREATE UNIQUE INDEX "Account_canvasUuid_key" ON "Account"("canvasUuid");

-- CreateIndex
CREATE INDEX "Account_partnerId_createdAt_idx" ON "Account"("partnerId", "createdAt");

-- CreateIndex
CREATE INDEX "Account_parentId_idx" ON "Account"("parentId");

-- CreateIndex
CREATE UNIQUE INDEX "User_catalogId_key" ON "User"("catalogId");

-- CreateIndex
CREATE UNIQUE INDEX "User_canvasUserUuid_key" ON "User"("canvasUserUuid");

-- CreateIndex
CREATE INDEX "User_partnerId_createdAt_idx" ON "User"("partnerId", "createdAt");

-- CreateIndex
CREATE INDEX "User_partnerId_updatedAt_idx" ON "User"("partnerId", "updatedAt");

-- CreateIndex
CREATE INDEX "User_accountId_idx" ON "User"("accountId");

-- CreateIndex
CREATE INDEX "User_clientId_idx" ON "User"("clientId");

-- CreateIndex
CREATE INDEX "User_mergedIntoId_idx" ON "User"("mergedIntoId");

-- CreateIndex
CREATE INDEX "User_partnerId_canvasUserId_idx" ON "User"("partnerId", "canvasUserId");

-- CreateIndex
CREATE UNIQUE INDEX "User_partnerId_externalUserId_key" ON "User"("partnerId", "externalUserId");

-- CreateIndex
CREATE UNIQUE INDEX "User_partnerId_email_key" ON "User"("partnerId", "email");

-- CreateIndex
CREATE UNIQUE INDEX "User_partnerId_identifier_key" ON "User"("partnerId", "identifier");

-- CreateIndex
CREATE INDEX "Client_partnerId_createdAt_idx" ON "Client"("partnerId", "createdAt");

-- CreateIndex
CREATE INDEX "Client_accountId_idx" ON "Client"("accountId");

-- CreateIndex
CREATE UNIQUE INDEX "Client_partnerId_identifier_key" ON "Client"("partnerId", "identifier");

-- CreateIndex
CREATE INDEX "Entitlement_kind_idx" ON "Entitlement"("kind");

-- CreateIndex
CREATE UNIQUE INDEX "Entitlement_userId_kind_key" ON "Entitlement"("userId", "kind");

-- CreateIndex
CREATE INDEX "Course_ownerId_idx" ON "Course"("ownerId");

-- CreateIndex
CREATE INDEX "Course_partnerId_createdAt_idx" ON "Course"("partnerId", "createdAt");

-- CreateIndex
CREATE INDEX "Enrollment_courseId_idx" ON "Enrollment"("courseId");

-- CreateIndex
CREATE UNIQUE INDEX "Enrollment_userId_courseId_key" ON "Enrollment"("userId", "courseId");

-- CreateIndex
CREATE INDEX "Order_userId_idx" ON "Order"("userId");

-- CreateIndex
CREATE INDEX "Order_courseId_idx" ON "Order"("courseId");

-- CreateIndex
CREATE INDEX "AccountAdmin_userId_idx" ON "AccountAdmin"("userId");

-- CreateIndex
CREATE UNIQUE INDEX "AccountAdmin_accountId_userId_key" ON "AccountAdmin"("accountId", "userId");

-- CreateIndex
CREATE UNIQUE INDEX "ApiKey_hash_key" ON "ApiKey"("hash");

-- CreateIndex
CREATE INDEX "ApiKey_partnerId_idx" ON "ApiKey"("partnerId");

-- CreateIndex
CREATE INDEX "AuditEvent_partnerId_createdAt_idx" ON "AuditEvent"("partnerId", "createdAt");

-- CreateIndex
CREATE INDEX "AuditEvent_partnerId_subjectId_idx" ON "AuditEvent"("partnerId", "subjectId");

-- AddForeignKey
ALTER TABLE "Account" ADD CONSTRAINT "Account_partnerId_fkey" FOREIGN KEY ("partnerId") REFERENCES "Account"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Account" ADD CONSTRAINT "Account_parentId_fkey" FOREIGN KEY ("parentId") REFERENCES "Account"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "User" ADD CONSTRAINT "User_partnerId_fkey" FOREIGN KEY ("partnerId") REFERENCES "Account"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "User" ADD CONSTRAINT "User_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "Account"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "User" ADD CONSTRAINT "User_mergedIntoId_fkey" FOREIGN KEY ("mergedIntoId") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "User" ADD CONSTRAINT "User_clientId_fkey" FOREIGN KEY ("clientId") REFERENCES "Client"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Client" ADD CONSTRAINT "Client_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "Account"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Entitlement" ADD CONSTRAINT "Entitlement_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Entitlement" ADD CONSTRAINT "Entitlement_grantedById_fkey" FOREIGN KEY ("grantedById") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Course" ADD CONSTRAINT "Course_ownerId_fkey" FOREIGN KEY ("ownerId") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Enrollment" ADD CONSTRAINT "Enrollment_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Enrollment" ADD CONSTRAINT "Enrollment_courseId_fkey" FOREIGN KEY ("courseId") REFERENCES "Course"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Order" ADD CONSTRAINT "Order_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Order" ADD CONSTRAINT "Order_courseId_fkey" FOREIGN KEY ("courseId") REFERENCES "Course"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AccountAdmin" ADD CONSTRAINT "AccountAdmin_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "Account"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AccountAdmin" ADD CONSTRAINT "AccountAdmin_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ApiKey" ADD CONSTRAINT "ApiKey_principalId_fkey" FOREIGN KEY ("principalId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

