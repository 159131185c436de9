-- Service versions (every save that changes script, type or config; rollbacks), and per-execution
-- service version, replay link, recorded request and run cost.

-- AlterTable
ALTER TABLE "Service" ADD COLUMN "version" INTEGER NOT NULL DEFAULT 1;

-- CreateTable
CREATE TABLE "ServiceVersion" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "serviceId" INTEGER NOT NULL,
    "version" INTEGER NOT NULL,
    "type" TEXT NOT NULL,
    "content" TEXT NOT NULL,
    "config" TEXT NOT NULL,
    "message" TEXT,
    "savedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "savedBy" TEXT NOT NULL,
    CONSTRAINT "ServiceVersion_serviceId_fkey" FOREIGN KEY ("serviceId") REFERENCES "Service" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE UNIQUE INDEX "ServiceVersion_serviceId_version_key" ON "ServiceVersion"("serviceId", "version");

-- Services saved before versions existed start at version 1.
INSERT INTO "ServiceVersion" ("serviceId", "version", "type", "content", "config", "message", "savedAt", "savedBy")
SELECT "id", 1, "type", "content", "config", NULL, "updatedAt", 'admin' FROM "Service";

-- AlterTable
ALTER TABLE "Execution" ADD COLUMN "serviceId" INTEGER;
ALTER TABLE "Execution" ADD COLUMN "serviceVersion" INTEGER;
ALTER TABLE "Execution" ADD COLUMN "replayOf" TEXT;
ALTER TABLE "Execution" ADD COLUMN "request" TEXT;
ALTER TABLE "Execution" ADD COLUMN "cpuMs" REAL;
ALTER TABLE "Execution" ADD COLUMN "peakMemoryBytes" REAL;
