-- CreateTable
CREATE TABLE "QueuedRun" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "eventName" TEXT NOT NULL,
    "payload" TEXT NOT NULL,
    "retries" INTEGER NOT NULL DEFAULT 0,
    "failures" INTEGER NOT NULL DEFAULT 0,
    "claims" INTEGER NOT NULL DEFAULT 0,
    "runAfter" BIGINT NOT NULL,
    "leaseToken" TEXT,
    "leaseUntil" BIGINT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
