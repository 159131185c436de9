-- CreateTable
CREATE TABLE "QueuedRun" (
    "id" BIGSERIAL NOT NULL,
    "eventName" TEXT NOT NULL,
    "payload" TEXT NOT NULL,
    "retries" INTEGER NOT NULL DEFAULT 0,
    "failures" INTEGER NOT NULL DEFAULT 0,
    "claims" INTEGER NOT NULL DEFAULT 0,
    "runAfter" BIGINT NOT NULL,
    "leaseToken" TEXT,
    "leaseUntil" BIGINT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "QueuedRun_pkey" PRIMARY KEY ("id")
);
