-- The catalog dialect's user list (GET /rest/catalog/api/v1/users, SPEC §7.2), read by every
-- catalog sync: a partner's live catalog users in catalog id order, and their count. Without it
-- every page sorted all of the partner's users (and ran the page's joins for each of them): 2-4 s
-- a page at 50,000 users on the embedded store. With it a page's ids are read in order from the
-- index alone (its OFFSET walks index entries, not rows) and the count is an index-only scan of
-- the listed users. `id` is the list's tie-breaker (ORDER BY "catalogId", id). Partial (WHERE),
-- which the Prisma schema cannot express, so this index lives in the migrations only.
CREATE INDEX "User_partnerId_catalogId_listed_idx" ON "User" ("partnerId", "catalogId", "id")
  WHERE "inCatalog" AND "deletedAt" IS NULL;
