-- The embed dialect's user list (GET /rest/embed/v1/headless/users, SPEC §7.4): a partner's live
-- users with an embed identifier in creation order, and their count. With it a page's ids are
-- read in order from the index alone and the count is an index-only scan of the listed users
-- (without it a bitmap scan of the partner's identifiers fetched every one from the heap): the
-- benchmark's list of 100 cost the server 1.7 ms per statement, 1.2 ms with it (pgbench,
-- prepared). `id` is the list's tie-breaker (ORDER BY "createdAt", id). Partial (WHERE), which
-- the Prisma schema cannot express, so this index lives in the migrations only.
CREATE INDEX "User_partnerId_createdAt_embed_listed_idx" ON "User" ("partnerId", "createdAt", "id")
  WHERE "identifier" IS NOT NULL AND "deletedAt" IS NULL;
