-- AlterTable
ALTER TABLE "Execution" ADD COLUMN "eventName" TEXT;

-- CreateTable
CREATE TABLE "EventScript" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "name" TEXT NOT NULL,
    "service" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "content" TEXT NOT NULL DEFAULT '',
    "isActive" BOOLEAN NOT NULL DEFAULT true,
    "allowEventModification" BOOLEAN NOT NULL DEFAULT false,
    "config" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateIndex
CREATE UNIQUE INDEX "EventScript_name_key" ON "EventScript"("name");

-- CreateIndex
CREATE INDEX "EventScript_service_idx" ON "EventScript"("service");
