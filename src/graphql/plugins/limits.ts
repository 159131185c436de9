import { ApolloArmor, EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { GraphQLError, validate, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * What one GraphQL document may ask for, checked (by graphql-armor) while
 * parsing and validating, before anything runs. Set well above what a real
 * client sends: GraphiQL's introspection query is 183 tokens and depth 13
 * inside `__schema` (not counted), all our test documents together 683
 * tokens; our deepest real path,
 * executions.edges.node.logs.edges.node.message, is depth 7 (8 through a
 * fragment); a page of 1000 executions with every field costs about 50,000.
 */
export const GRAPHQL_LIMITS = {
  /**
   * Lexer tokens: bounds parse time, the parser's recursion (nesting costs two
   * tokens a level) and GraphQL's validation, which is quadratic in repeats
   * of one field (1,200 repeats, within 5,000 tokens, took 270 ms).
   */
  maxTokens: 2000,
  /** Field nesting, fragments counted as a level. */
  maxDepth: 12,
  /** Aliased fields in one operation (the same list under many names multiplies the work). */
  maxAliases: 50,
  /** Directives in one operation. */
  maxDirectives: 50,
  /** graphql-armor's cost: objects 2, scalars 1, x1.5 per level, times a literal first/last. */
  maxCost: 100_000,
} as const;

/** The limit's error as a validation error saying which limit, without armor's misleading "Syntax Error:" prefix. */
function report(context: ValidationContext | null, error: GraphQLError): void {
  context?.reportError(
    new GraphQLError(error.message.replace(/^Syntax Error: /, ''), { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }),
  );
}

const onRejection = { onReject: [report], propagateOnRejection: false };

/**
 * The limits as envelop plugins; Yoga runs them for HTTP, SSE and (through
 * getEnveloped) the WebSocket transport. The token limit bounds the parse.
 * The other limits run alone before GraphQL's own validation, and a document
 * over one is refused with their errors only: some of GraphQL's rules are
 * quadratic in the fields of a selection (OverlappingFieldsCanBeMerged took
 * 100 to 170 ms for 800 aliases), and need not run on a refused document.
 */
export function useRequestLimits(): Plugin[] {
  const tokens = EnvelopArmorPlugin({
    blockFieldSuggestion: { enabled: false },
    // The token limit fails the parse itself (no validation context to report to): its error is a syntax error.
    maxTokens: { n: GRAPHQL_LIMITS.maxTokens },
    maxDepth: { enabled: false },
    maxAliases: { enabled: false },
    maxDirectives: { enabled: false },
    costLimit: { enabled: false },
  }) as Plugin;
  const { validationRules } = new ApolloArmor({
    // Field suggestions stay: every caller holds the administrator key, so they reveal nothing.
    blockFieldSuggestion: { enabled: false },
    maxTokens: { enabled: false },
    maxDepth: { n: GRAPHQL_LIMITS.maxDepth, ...onRejection },
    // __typename too: armor allows any number of those by default.
    maxAliases: { n: GRAPHQL_LIMITS.maxAliases, allowList: [], ...onRejection },
    maxDirectives: { n: GRAPHQL_LIMITS.maxDirectives, ...onRejection },
    costLimit: { maxCost: GRAPHQL_LIMITS.maxCost, ...onRejection },
  }).protect();
  const limitsFirst: Plugin = {
    // A validation function, not a check of our own in onValidate: Yoga's validation cache (per schema and
    // parsed document) answers a document seen before without calling it, so the limits cost nothing on a repeat.
    onValidate({ validateFn, setValidationFn }) {
      setValidationFn((schema, document, rules, typeInfo, options) => {
        const refused = validate(schema, document, validationRules);
        if (refused.length > 0) return refused;
        // GraphQL stops validating past a budget of work of its own, with a bare "Validation aborted.": say why.
        return (validateFn(schema, document, rules, typeInfo, options) as readonly GraphQLError[]).map((error) =>
          error.message === 'Validation aborted.'
            ? new GraphQLError('The document is too complex to validate (a field repeated too often, or fragments spread too widely): send a smaller one.', {
                extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
              })
            : error,
        );
      });
    },
  };
  return [tokens, limitsFirst];
}

/**
 * GET (and form) requests carry `variables` and `extensions` as JSON in a
 * parameter, which Yoga parses unguarded: a malformed one would be an
 * unexpected (masked, 500-class) error. It is the client's: 400 naming it.
 */
export function useParameterErrors(): Plugin {
  return {
    onRequestParse({ requestParser, setRequestParser }) {
      if (!requestParser) return;
      const parse = requestParser;
      setRequestParser(async (request) => {
        try {
          return await parse(request);
        } catch (error) {
          if (!(error instanceof SyntaxError)) throw error;
          throw new GraphQLError(`The "variables" or "extensions" parameter is not valid JSON: ${error.message}`, {
            extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
          });
        }
      });
    },
  };
}
