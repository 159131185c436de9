-- Executions are listed newest first by id: ids are UUIDv7, so they sort by
-- start time, and one index fewer is written on every run.

-- DropIndex
DROP INDEX "Execution_startedAt_idx";

-- DropIndex
DROP INDEX "Execution_service_startedAt_idx";

-- CreateIndex
CREATE INDEX "Execution_service_id_idx" ON "Execution"("service", "id");
