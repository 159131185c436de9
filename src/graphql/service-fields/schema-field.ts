// `serviceSchema`: the schema this request runs on, printed (the platform's
// own fields and every service's). `schema/schema.graphql` holds only the platform's.
import { printSchema, type GraphQLSchema } from 'graphql';
import { builder } from '../builder.ts';

/** Printed once per served schema (a schema of 1,000 services prints in tens of milliseconds). */
const printed = new WeakMap<GraphQLSchema, string>();

builder.queryField('serviceSchema', (t) =>
  t.string({
    description: "The live schema in SDL: the platform's own fields plus every service's typed fields (the `graphql` of services). For codegen and tools.",
    resolve: (_root, _args, _ctx, info) => {
      let text = printed.get(info.schema);
      if (text === undefined) {
        text = printSchema(info.schema);
        printed.set(info.schema, text);
      }
      return text;
    },
  }),
);
