-- Idempotency keys belong to one credential (an API key, or a JWT's subject), no longer to
-- the whole partner: anyone of the partner could replay another caller's createUsers results
-- or take a key first. `prisma migrate diff` writes the change below; the DELETE is added by
-- hand. Records written before it cannot be attributed to a credential, and a NOT NULL
-- column cannot be added to rows without a value; they are replay caches, so they go (a
-- retry of such a call is answered as new work: its taken keys are conflicts, no duplicate).
DELETE FROM "IdempotencyRecord";

-- AlterTable
ALTER TABLE "IdempotencyRecord" DROP CONSTRAINT "IdempotencyRecord_pkey",
ADD COLUMN     "credential" TEXT NOT NULL,
ADD CONSTRAINT "IdempotencyRecord_pkey" PRIMARY KEY ("partnerId", "credential", "key");
