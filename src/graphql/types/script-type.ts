import type { ScriptTypeInfo } from '../../scripting/types.ts';
import { builder } from '../builder.ts';

const ScriptType = builder.objectRef<ScriptTypeInfo>('ScriptType').implement({
  description: 'A language scripts can be written in, and whether this server can run it now.',
  fields: (t) => ({
    name: t.exposeString('name'),
    label: t.exposeString('label'),
    description: t.exposeString('description'),
    sandboxed: t.exposeBoolean('sandboxed'),
    supportsInlineExecution: t.exposeBoolean('supportsInlineExecution'),
    available: t.exposeBoolean('available'),
    version: t.exposeString('version', { nullable: true }),
    engine: t.exposeString('engine', { description: '"quickjs-wasm" (in-process sandbox) or "subprocess".' }),
    unavailableReason: t.exposeString('unavailableReason', { nullable: true }),
  }),
});

builder.queryFields((t) => ({
  scriptTypes: t.field({
    type: [ScriptType],
    resolve: (_root, _args, ctx) => ctx.platform.engines.settledList(),
  }),
  scriptType: t.field({
    type: ScriptType,
    nullable: true,
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_root, { name }, ctx) => (await ctx.platform.engines.settledList()).find((type) => type.name === name.toLowerCase()) ?? null,
  }),
}));
