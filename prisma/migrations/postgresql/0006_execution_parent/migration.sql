-- Calls made through platform.api link to the run that made them.

-- AlterTable
ALTER TABLE "Execution" ADD COLUMN "parentExecutionId" TEXT;

-- CreateIndex
CREATE INDEX "Execution_parentExecutionId_idx" ON "Execution"("parentExecutionId");
