import { adminCaller } from '../../domain/caller.ts';
import type { InvokeResult } from '../../domain/invoke.ts';
import { builder } from '../builder.ts';

const Invocation = builder.objectRef<InvokeResult>('Invocation').implement({
  description: 'What calling a scripted service answered.',
  fields: (t) => ({
    statusCode: t.exposeInt('statusCode'),
    content: t.field({ type: 'JSON', nullable: true, resolve: (r) => r.content }),
    contentType: t.exposeString('contentType', { nullable: true }),
    headers: t.field({ type: 'JSON', resolve: (r) => r.headers }),
    executionId: t.exposeID('executionId', { nullable: true }),
  }),
});

builder.mutationFields((t) => ({
  invokeService: t.field({
    type: Invocation,
    description: 'Runs a service as a REST call to /api/v2/{name}/{resource} would.',
    args: {
      name: t.arg.string({ required: true }),
      method: t.arg.string({ defaultValue: 'GET' }),
      resource: t.arg.string(),
      parameters: t.arg({ type: 'JSON' }),
      payload: t.arg({ type: 'JSON' }),
      headers: t.arg({ type: 'JSON' }),
    },
    resolve: (_root, args, ctx) => {
      const headers: Record<string, string> = {};
      if (args.headers && typeof args.headers === 'object') {
        for (const [k, v] of Object.entries(args.headers)) headers[k.toLowerCase()] = String(v);
      }
      const hasPayload = args.payload !== undefined && args.payload !== null;
      return ctx.platform.invoker.invoke(
        {
          method: (args.method ?? 'GET').toUpperCase(),
          service: args.name,
          resource: (args.resource ?? '').replace(/^\/+|\/+$/g, ''),
          parameters: args.parameters && typeof args.parameters === 'object' ? (args.parameters as Record<string, unknown>) : {},
          headers,
          payload: hasPayload ? args.payload : null,
          content: hasPayload ? JSON.stringify(args.payload) : '',
          contentType: hasPayload ? 'application/json' : null,
        },
        adminCaller('graphql'),
      );
    },
  }),
}));
