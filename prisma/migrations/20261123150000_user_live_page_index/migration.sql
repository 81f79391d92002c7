-- A partner's live users in id order (the users connection, the REST lists) and their count
-- (totalCount), read from the index alone: no sort, no heap scan. Partial (WHERE), which the
-- Prisma schema cannot express, so this index lives in the migrations only; diffs between
-- datamodels leave it alone.
CREATE INDEX "User_partnerId_id_live_idx" ON "User" ("partnerId", "id") WHERE "deletedAt" IS NULL;
