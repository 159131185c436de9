// Operations that only call services' typed fields, run without Yoga's
// per-request pipeline once Yoga has run them (issue #13).
//
// A typed field is a call of a service; through Yoga, the same call paid
// about 80 µs more than over REST (params hooks, the envelop orchestrator and
// its caches, the context factory, plugin hooks), while the field's own work
// is the pipeline's invoke, as REST's. A document Yoga has parsed, validated
// (limits included) and started to execute against a schema is remembered
// here for that schema object, by its text and operation name, if every root
// field it selects is a typed field. A later request with the same text on
// the same schema runs on Yoga's own executor with the same context, and its
// errors are masked by Yoga's own function; what the other plugins would do
// to such an operation is nothing: access to a typed field is the pipeline's
// (operation-access.ts), subscriptions are not planned, and limits and
// validation passed when the plan was made. A schema rebuilt after a change
// is a new object, with no plans until Yoga runs each document on it again.
// test/graphql-door.test.ts compares both ways' answers.
import { normalizedExecutor } from '@graphql-tools/executor';
import { getOperationAST, getVariableValues, Kind, type DocumentNode, type ExecutionResult, type GraphQLError, type GraphQLSchema } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GraphQLContext } from './builder.ts';
import { serviceOfField } from './service-fields/schemas.ts';

/** Distinct documents remembered per schema: clients send a handful; a client sending endless new texts fills it and then runs through Yoga. */
const MAX_PLANS_PER_SCHEMA = 500;

interface Plan {
  document: DocumentNode;
  operation: NonNullable<ReturnType<typeof getOperationAST>>;
}

export interface PlannedParams {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

export class TypedFieldPlans {
  private readonly bySchema = new WeakMap<GraphQLSchema, Map<string, Plan | null>>();
  /** Operations answered from a plan since start. */
  runs = 0;

  /** Called with a document Yoga is about to execute on `schema` (it parsed and validated it). */
  learn(schema: GraphQLSchema, params: PlannedParams, document: DocumentNode): void {
    let plans = this.bySchema.get(schema);
    if (!plans) this.bySchema.set(schema, (plans = new Map()));
    const key = keyOf(params);
    if (plans.has(key) || plans.size >= MAX_PLANS_PER_SCHEMA) return;
    plans.set(key, planOf(schema, params, document));
  }

  find(schema: GraphQLSchema, params: PlannedParams): Plan | undefined {
    return this.bySchema.get(schema)?.get(keyOf(params)) ?? undefined;
  }

  /**
   * The result of a planned operation, errors masked as Yoga masks them; null
   * when its variables do not fit (Yoga answers those, nothing having run).
   */
  async run(
    schema: GraphQLSchema,
    plan: Plan,
    params: PlannedParams,
    contextValue: GraphQLContext,
    maskError: (error: GraphQLError) => GraphQLError,
  ): Promise<ExecutionResult | null> {
    const variables = params.variables ?? undefined;
    if (plan.operation.variableDefinitions?.length || variables) {
      const coerced = getVariableValues(schema, plan.operation.variableDefinitions ?? [], variables ?? {});
      if (coerced.errors) return null;
    }
    this.runs++;
    const result = (await normalizedExecutor({
      schema,
      document: plan.document,
      contextValue,
      variableValues: variables,
      operationName: params.operationName ?? undefined,
    })) as ExecutionResult;
    return result.errors ? { ...result, errors: result.errors.map(maskError) } : result;
  }
}

function keyOf(params: PlannedParams): string {
  return params.operationName ? `${params.operationName}\u0000${params.query}` : params.query;
}

/** A plan when the chosen operation is a query or mutation whose root selections are all plain typed fields (or __typename). */
function planOf(schema: GraphQLSchema, params: PlannedParams, document: DocumentNode): Plan | null {
  const operation = getOperationAST(document, params.operationName ?? undefined);
  if (!operation || operation.operation === 'subscription') return null;
  let typed = 0;
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD || selection.directives?.length) return null;
    const name = selection.name.value;
    if (name === '__typename') continue;
    if (!serviceOfField(schema, name)) return null;
    typed++;
  }
  return typed > 0 ? { document, operation } : null;
}

/** Remembers what Yoga executes over HTTP (the context carries the request's params; WebSocket operations have none). */
export function useTypedFieldPlans(plans: TypedFieldPlans): Plugin<GraphQLContext> {
  return {
    onExecute({ args }) {
      const params = (args.contextValue as { params?: Partial<PlannedParams> }).params;
      if (typeof params?.query === 'string') plans.learn(args.schema, params as PlannedParams, args.document);
    },
  };
}
