-- Sync runs on the job queue (SPEC §10.3): who runs a run and when it last showed life, so
-- a run whose process died is picked up again; and at most one QUEUED or RUNNING run per
-- backend, so two replicas (or a request and the schedule) never run one backend twice.
ALTER TABLE "SyncRun" ADD COLUMN "worker" TEXT;
ALTER TABLE "SyncRun" ADD COLUMN "heartbeatAt" TIMESTAMPTZ(3);

CREATE UNIQUE INDEX "SyncRun_one_active_per_backend" ON "SyncRun"("backendId") WHERE "status" IN ('QUEUED', 'RUNNING');

-- The scheduler's sweep: runs waiting or running, oldest first.
CREATE INDEX "SyncRun_status_heartbeatAt_idx" ON "SyncRun"("status", "heartbeatAt") WHERE "status" IN ('QUEUED', 'RUNNING');
