import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, type DocumentNode, type ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { WebSocket, WebSocketServer } from 'ws';
import type { YogaServerInstance } from 'graphql-yoga';
import type { IncomingMessage } from 'node:http';
import type { Identity } from '../access/caller-identity.ts';
import { keyOf } from '../http/credentials.ts';
import { rawErrorResponse } from '../http/client-errors.ts';
import type { GraphQLContext } from './builder.ts';
import { attachSubscriber, webSocketSink } from './subscription-fanout.ts';

type Enveloped = ReturnType<YogaServerInstance<Record<string, unknown>, GraphQLContext>['getEnveloped']>;

/** Connection-init payload keys that may carry the key, matched case-insensitively. */
function keyFromConnectionParams(params: Record<string, unknown> | undefined): string | null {
  if (!params) return null;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) if (typeof value === 'string') headers[name.toLowerCase()] = value;
  return headers.apikey ?? keyOf(headers, { api_key: headers.api_key });
}

/** The WebSocket door's part in a shutdown (src/http/drain.ts). */
export interface GraphQLWebSocket {
  /** Takes no new connections; open ones keep working. */
  refuseNew(): void;
  /**
   * Waits (up to `withinMs`) until no operation is open on any socket, so
   * each subscription ended by the bus has sent its `complete`, then closes
   * every socket with 1001.
   */
  close(withinMs: number): Promise<void>;
}

/**
 * GraphQL subscriptions (and queries) over WebSocket with the graphql-ws
 * protocol on /graphql, executed through Yoga's envelop so plugins and error
 * masking are the same as over HTTP.
 */
export function attachGraphQLWebSocket(
  server: Server,
  webSockets: WebSocketServer,
  yoga: YogaServerInstance<Record<string, unknown>, GraphQLContext>,
  identify: (key: string | null) => Identity | Promise<Identity>,
): GraphQLWebSocket {
  /** Each connection's identity, decided once from its connection_init payload. */
  const identities = new WeakMap<object, Identity>();
  /** Each operation's socket and id, by its context, for the fan-out's frames. */
  const operationOf = new WeakMap<object, { socket: WebSocket; id: string }>();
  /** graphql-ws's open operations per accepted connection, watched at shutdown. */
  const operations = new Set<Record<string, unknown>>();
  const disposable = useServer(
    {
      onConnect: async (ctx) => {
        try {
          identities.set(ctx.extra.socket, await identify(keyFromConnectionParams(ctx.connectionParams)));
          operations.add(ctx.subscriptions);
          return true;
        } catch (error) {
          // graphql-ws would close with a bare "Forbidden": say why (a close reason holds at most 123 bytes).
          ctx.extra.socket.close(4403, Buffer.from((error as Error).message).subarray(0, 123).toString());
          return false;
        }
      },
      onClose: (ctx) => {
        operations.delete(ctx.subscriptions);
      },
      execute: (args) => (args.rootValue as Enveloped).execute(args as ExecutionArgs),
      subscribe: async (args) => {
        const result = await (args.rootValue as Enveloped).subscribe(args as ExecutionArgs);
        // A live subscription's events are written to this socket by the fan-out (src/graphql/subscription-fanout.ts).
        const operation = operationOf.get(args.contextValue as object);
        if (operation) attachSubscriber(args.contextValue, webSocketSink(operation.socket, operation.id));
        return result;
      },
      onSubscribe: async (ctx, id, payload) => {
        const enveloped = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          identity: identities.get(ctx.extra.socket) ?? null,
        });
        // A query that does not parse is that operation's error, not the connection's:
        // thrown, graphql-ws would close the socket (4500) with every subscription on it.
        let document: DocumentNode;
        try {
          document = enveloped.parse(payload.query);
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const args = {
          schema: enveloped.schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: await enveloped.contextFactory(),
          rootValue: enveloped,
        };
        operationOf.set(args.contextValue, { socket: ctx.extra.socket, id });
        const errors = enveloped.validate(args.schema, args.document);
        return errors.length ? errors : args;
      },
    },
    webSockets,
  );
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/graphql') {
      socket.on('error', () => undefined);
      socket.end(rawErrorResponse(404, `No WebSocket endpoint at ${path.slice(0, 100)}: connect to /graphql.`));
      return;
    }
    webSockets.handleUpgrade(request, socket, head, (client) => webSockets.emit('connection', client, request));
  };
  server.on('upgrade', onUpgrade);
  return {
    refuseNew: () => server.off('upgrade', onUpgrade),
    async close(withinMs) {
      server.off('upgrade', onUpgrade);
      const deadline = Date.now() + withinMs;
      const open = () => [...operations].some((operation) => Object.keys(operation).length > 0);
      while (open() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      for (const client of webSockets.clients) client.close(1001, 'server shutting down');
      // A peer that never answers the close frame would hold it 30 s (ws's close timeout).
      const closed = () => [...webSockets.clients].every((client) => client.readyState === client.CLOSED);
      for (const until = Date.now() + 1000; !closed() && Date.now() < until; ) await new Promise((resolve) => setTimeout(resolve, 10));
      for (const client of webSockets.clients) client.terminate();
      await disposable.dispose();
    },
  };
}
