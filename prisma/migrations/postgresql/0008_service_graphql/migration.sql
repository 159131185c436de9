-- A service's GraphQL definition: SDL whose Query and Mutation fields call it (typed service fields).

-- AlterTable
ALTER TABLE "Service" ADD COLUMN "graphql" TEXT;
