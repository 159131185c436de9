import {
  GraphQLError,
  Kind,
  valueFromASTUntyped,
  type DocumentNode,
  type FieldNode,
  type GraphQLSchema,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { SYSTEM_SERVICE_ID, type Verb } from '../../access/access-rules.ts';
import { forbidden, identityAllows } from '../../access/caller-identity.ts';
import type { GraphQLContext } from '../builder.ts';
import { serviceOfField } from '../service-fields/schemas.ts';

/** A root field checked here: the system API component (from its arguments, for one record) and verb it stands for. */
type Checked = { component: string | ((args: Record<string, unknown>) => string); verb: Verb };

/**
 * Every root field, once: either it is a call through the invocation
 * pipeline (`systemCall`, `invokeService`), which authorizes it exactly as
 * the REST call it stands for, or it reads the domain directly and is
 * checked here as that same system API call. A field missing here is for
 * the administrator only (a test keeps the map complete).
 */
export const OPERATION_ACCESS: Record<string, 'pipeline' | Checked> = {
  // Query
  services: 'pipeline',
  service: 'pipeline',
  eventScripts: 'pipeline',
  eventScript: 'pipeline',
  events: 'pipeline',
  roles: 'pipeline',
  role: 'pipeline',
  apps: 'pipeline',
  app: 'pipeline',
  scriptTypes: { component: 'script_type', verb: 'GET' },
  scriptType: { component: (args) => `script_type/${String(args.name)}`, verb: 'GET' },
  executions: { component: 'execution', verb: 'GET' },
  // A syntax check is the check a save makes: what creating a service allows.
  checkScript: { component: 'service', verb: 'POST' },
  execution: { component: (args) => `execution/${String(args.id)}`, verb: 'GET' },
  serviceVersion: 'pipeline',
  // Every service's typed fields in SDL: what reading the service list shows.
  serviceSchema: { component: 'service', verb: 'GET' },
  // Mutation
  createService: 'pipeline',
  updateService: 'pipeline',
  deleteService: 'pipeline',
  upsertEventScript: 'pipeline',
  deleteEventScript: 'pipeline',
  createRole: 'pipeline',
  updateRole: 'pipeline',
  deleteRole: 'pipeline',
  createApp: 'pipeline',
  updateApp: 'pipeline',
  deleteApp: 'pipeline',
  rotateAppKey: 'pipeline',
  setServiceSecret: 'pipeline',
  deleteServiceSecret: 'pipeline',
  invokeService: 'pipeline',
  rollbackService: 'pipeline',
  // Reading the execution; then the service's own access (or, with `script`, creating services) is checked as the run starts.
  replayExecution: { component: (args) => `execution/${String(args.id)}`, verb: 'GET' },
  // Running any script is what creating a service allows.
  runScript: { component: 'service', verb: 'POST' },
  // Subscription
  executionLogs: { component: 'execution', verb: 'GET' },
  executionUpdated: { component: 'execution', verb: 'GET' },
};

/** Refuses, before anything runs, an operation with a root field the caller's role does not grant (a list is refused, not filtered). */
export function useOperationAccess(): Plugin<GraphQLContext> {
  const check = (args: { schema: GraphQLSchema; document: DocumentNode; operationName?: string | null; variableValues?: Record<string, unknown> | null; contextValue: GraphQLContext }): GraphQLError | null => {
    const { identity } = args.contextValue.caller;
    if (identity.kind === 'admin') return null;
    for (const node of rootFields(args.document, args.operationName)) {
      const field = node.name.value;
      if (field.startsWith('__')) continue;
      // Own keys only: a service field may be named "constructor".
      const access = Object.hasOwn(OPERATION_ACCESS, field) ? OPERATION_ACCESS[field] : undefined;
      // A service's typed field is a call to the service: the pipeline checks it as one (GET or POST on the field's name).
      if (access === 'pipeline' || (access === undefined && serviceOfField(args.schema, field))) continue;
      const component = typeof access?.component === 'function' ? access.component(argumentsOf(node, args.variableValues ?? {})) : (access?.component ?? field);
      if (!access || !identityAllows(identity, SYSTEM_SERVICE_ID, component, access.verb, 'API')) {
        const error = forbidden(access?.verb ?? 'GET', 'system', component);
        return new GraphQLError(error.message, { extensions: { code: 'FORBIDDEN', status: 403, field } });
      }
    }
    return null;
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const refused = check(args);
      if (refused) setResultAndStopExecution({ errors: [refused] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refused = check(args);
      if (refused) setResultAndStopExecution({ errors: [refused] });
    },
  };
}

/** A field's arguments as given, variables filled in. */
function argumentsOf(node: FieldNode, variables: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries((node.arguments ?? []).map((argument) => [argument.name.value, valueFromASTUntyped(argument.value, variables)]));
}

/** The root fields the chosen operation selects, through fragments too. */
function rootFields(document: DocumentNode, operationName: string | null | undefined): FieldNode[] {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  const fragments = new Map(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]),
  );
  const fields: FieldNode[] = [];
  const seen = new Set<string>();
  const walk = (selectionSet: SelectionSetNode): void => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) fields.push(selection);
      else if (selection.kind === Kind.INLINE_FRAGMENT) walk(selection.selectionSet);
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) walk(fragment.selectionSet);
      }
    }
  };
  if (operation) walk(operation.selectionSet);
  return fields;
}
