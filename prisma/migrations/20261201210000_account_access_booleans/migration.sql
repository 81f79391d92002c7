-- legacyAccess and lrnAccess are booleans, as the messaging API has them (SPEC §2), instead of
-- CoverageAccess values. `prisma migrate diff` writes this as DROP COLUMN + ADD COLUMN, which
-- would reset every account's flags; it is changed by hand to convert them in place. NONE is
-- the one CoverageAccess value meaning no access, so it becomes false; DOMESTIC and
-- INTERNATIONAL become true. The old default ('NONE'::"CoverageAccess") has no boolean cast and
-- must go before the type changes.
ALTER TABLE "Account"
  ALTER COLUMN "legacyAccess" DROP DEFAULT,
  ALTER COLUMN "legacyAccess" SET DATA TYPE BOOLEAN USING ("legacyAccess" <> 'NONE'),
  ALTER COLUMN "legacyAccess" SET DEFAULT false,
  ALTER COLUMN "lrnAccess" DROP DEFAULT,
  ALTER COLUMN "lrnAccess" SET DATA TYPE BOOLEAN USING ("lrnAccess" <> 'NONE'),
  ALTER COLUMN "lrnAccess" SET DEFAULT false;
