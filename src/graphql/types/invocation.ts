import { DomainError } from '../../domain/errors.ts';
import { errorResult } from '../../domain/event-stages.ts';
import type { InvokeRequest, InvokeResult } from '../../domain/invoke.ts';
import { requestHeaders, requestParameters } from '../../domain/script-request.ts';
import { builder } from '../builder.ts';

export const Invocation = builder.objectRef<InvokeResult>('Invocation').implement({
  description: 'What calling a scripted service answered.',
  fields: (t) => ({
    statusCode: t.exposeInt('statusCode'),
    content: t.field({ type: 'JSON', nullable: true, resolve: (r) => r.content }),
    contentType: t.exposeString('contentType', { nullable: true }),
    headers: t.field({ type: 'JSON', resolve: (r) => r.headers }),
    executionId: t.exposeID('executionId', { nullable: true }),
  }),
});

export const RunScriptInput = builder.inputType('RunScriptInput', {
  description: 'A script to run without saving it: the fields a service would have.',
  fields: (t) => ({
    type: t.string({ required: true, description: 'A script type name, as in `scriptTypes`.' }),
    content: t.string({ required: true, description: 'The script.' }),
    config: t.field({ type: 'JSON', description: 'As a service config: timeout_ms, memory_limit_mb, max_log_bytes, and what platform.config shows.' }),
  }),
});

interface RequestArgs {
  method?: string | null;
  resource?: string | null;
  parameters?: unknown;
  payload?: unknown;
  headers?: unknown;
}

/** The request a REST call would have made, from the mutation's arguments. */
function requestFrom(args: RequestArgs): Omit<InvokeRequest, 'service'> {
  const hasPayload = args.payload !== undefined && args.payload !== null;
  return {
    method: (args.method ?? 'GET').toUpperCase(),
    resource: (args.resource ?? '').replace(/^\/+|\/+$/g, ''),
    parameters: requestParameters(args.parameters, 'parameters'),
    headers: requestHeaders(args.headers, 'headers'),
    payload: hasPayload ? args.payload : null,
    content: hasPayload ? JSON.stringify(args.payload) : '',
    contentType: hasPayload ? 'application/json' : null,
  };
}

/**
 * A script that ran answered, even with an error: that is an Invocation with
 * its status and error body, as REST would show it. GraphQL errors are for
 * calls that could not be made (not found, bad input, not allowed, overloaded).
 */
export async function answered(call: Promise<InvokeResult>): Promise<InvokeResult> {
  try {
    return await call;
  } catch (error) {
    if (error instanceof DomainError && error.extra.executionId && error.kind !== 'SERVICE_UNAVAILABLE') return errorResult(error);
    throw error;
  }
}

builder.mutationFields((t) => {
  const requestArgs = {
    method: t.arg.string({ defaultValue: 'GET' }),
    resource: t.arg.string(),
    parameters: t.arg({ type: 'JSON' }),
    payload: t.arg({ type: 'JSON' }),
    headers: t.arg({ type: 'JSON' }),
  };
  return {
    invokeService: t.field({
      type: Invocation,
      description: 'Runs a service as a REST call to /api/v2/{name}/{resource} would.',
      args: { name: t.arg.string({ required: true }), ...requestArgs },
      resolve: (_root, args, ctx) => answered(ctx.platform.invoker.invoke({ ...requestFrom(args), service: args.name }, ctx.caller)),
    }),
    runScript: t.field({
      type: Invocation,
      description:
        'Runs a script without saving it, as it would run saved as a service: for trying a script out. Recorded as an execution of the service name "(inline)", so `executionLogs(service: "(inline)")` follows it live.',
      args: { script: t.arg({ type: RunScriptInput, required: true }), ...requestArgs },
      resolve: (_root, args, ctx) => answered(ctx.platform.invoker.runInline(args.script, requestFrom(args), { ...ctx.caller, trigger: 'inline' })),
    }),
  };
});
