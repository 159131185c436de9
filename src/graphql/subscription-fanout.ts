import { Readable } from 'node:stream';
import { createSourceEventStream, execute, print, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { FellBehind, LiveSource } from '../logs/subscription.ts';
import { RequestScope } from './request-scope.ts';

/**
 * Live subscriptions, executed once per event for all the clients that sent
 * the same operation with the same variables, over WebSocket and server-sent
 * events alike.
 *
 * Each client's subscribe still goes through envelop (`onSubscribe` hooks:
 * authentication, OPERATION_ACCESS, limits), so a client that is not allowed
 * never gets here. This plugin comes last and replaces the subscribe
 * function: the first client of an operation opens its source (the field's
 * `subscribe` resolver) and makes a group; later ones join it. Per event the
 * group resolves the selection set once, masks errors as Yoga does, and
 * serializes the result once; each client's connection then gets that JSON
 * inside its own frame:
 *  - graphql-ws: `{"id":<its id>,"type":"next","payload":<json>}`, built by
 *    concatenation and sent on the client's socket. graphql-ws has no way to
 *    send bytes made elsewhere (it stringifies each message whole, per
 *    client), so this one frame is written here; everything else of the
 *    protocol (ids, `complete`, `error`, ping) stays graphql-ws's: the client's
 *    operation is an iterator that yields nothing and ends when the client's
 *    membership does, so graphql-ws sends `complete` after the last frame.
 *  - server-sent events: `event: next\ndata: <json>\n\n`, the same bytes for
 *    every client, encoded once. Yoga's result processor is replaced for these
 *    responses by one that writes them, with Yoga's headers, first ping and
 *    `event: complete`.
 *
 * Back-pressure: a client whose connection holds more than
 * SUBSCRIBER_BUFFER_BYTES not yet taken by the kernel gets the source's
 * farewell (a last item saying why) and completes; the others are not
 * slowed, and a client that keeps up never misses an item. A source that
 * replays history from when it was opened (not `shareable`) serves one
 * client; it still takes this write path.
 */

/** Bytes a client's connection may hold unsent before it is dropped. */
export const SUBSCRIBER_BUFFER_BYTES = 1024 * 1024;

/** Server-sent events: Yoga's keep-alive comment interval. */
const SSE_PING_MS = 12_000;

type Mask = (error: GraphQLError, message: string) => Error;

/** One event's result, serialized once for every client of a group. */
class SharedPayload {
  private eventStream: Buffer | null = null;
  constructor(readonly json: string) {}

  /** The server-sent events message: the same bytes for every client. */
  get eventStreamBytes(): Buffer {
    this.eventStream ??= Buffer.from(`event: next\ndata: ${this.json}\n\n`);
    return this.eventStream;
  }
}

/** A client's connection, as far as the group writes to it. */
export interface SubscriberSink {
  /** Bytes written and not yet taken by the kernel. */
  buffered(): number;
  next(payload: SharedPayload): void;
}

/** A graphql-ws operation on a `ws` socket. */
export function webSocketSink(
  socket: {
    bufferedAmount: number;
    readyState: number;
    readonly OPEN: number;
    send(data: string): void;
  },
  id: string,
): SubscriberSink {
  const head = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  return {
    buffered: () => socket.bufferedAmount,
    next(payload) {
      if (socket.readyState === socket.OPEN) socket.send(head + payload.json + '}');
    },
  };
}

/** One client in a group: frames go to its sink once attached (until then they wait, counted toward the same limit). */
class Member {
  sink: SubscriberSink | null = null;
  private waiting: SharedPayload[] = [];
  private waitingBytes = 0;
  private ended = false;
  private leaving = false;
  private finish: ((result: IteratorResult<never>) => void) | null = null;
  private fail: ((error: unknown) => void) | null = null;
  private readonly finished = new Promise<IteratorResult<never>>((resolve, reject) => {
    this.finish = resolve;
    this.fail = reject;
  });

  constructor(
    private readonly group: Group,
    /** The operation's context (and request, over HTTP), under which the transport finds this member to attach it. */
    readonly context: object | null,
  ) {
    // Read by the transport; a client gone before it reads must not leave an unhandled rejection.
    this.finished.catch(() => undefined);
  }

  /**
   * What the transport iterates for this client: nothing is ever yielded
   * (frames are written by the group); it ends when the client's membership
   * does, and `return()` (the client unsubscribed or went away) leaves.
   */
  readonly operation: AsyncIterableIterator<never> = {
    next: () => this.finished,
    return: () => {
      this.leave();
      return Promise.resolve({ value: undefined, done: true as const });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };

  attach(sink: SubscriberSink): void {
    if (this.ended) return;
    this.sink = sink;
    for (const payload of this.waiting) sink.next(payload);
    this.waiting = [];
  }

  deliver(payload: SharedPayload): void {
    if (this.leaving) return;
    const buffered = this.sink ? this.sink.buffered() : this.waitingBytes;
    if (buffered > SUBSCRIBER_BUFFER_BYTES) {
      this.dropBehind();
      return;
    }
    if (this.sink) {
      this.sink.next(payload);
    } else {
      this.waiting.push(payload);
      this.waitingBytes += payload.json.length;
    }
  }

  /** Completes this client (after what was written); it no longer reads the group. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.leaving = true;
    this.group.remove(this);
    this.finish?.({ value: undefined, done: true });
  }

  /** The source failed: the transport reports the error (graphql-ws `error`; the event stream is cut), masked by envelop's hooks. */
  failWith(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.leaving = true;
    this.group.remove(this);
    this.fail?.(error);
  }

  /** The client went away: nothing more is written. */
  leave(): void {
    this.sink = null;
    this.waiting = [];
    this.end();
  }

  /** Too much unsent: the group's farewell as this client's last frame, then complete. */
  private dropBehind(): void {
    this.leaving = true;
    this.group.farewell({ bytes: SUBSCRIBER_BUFFER_BYTES }).then(
      (payload) => {
        if (payload && !this.ended) {
          if (this.sink) this.sink.next(payload);
          else this.waiting.push(payload);
        }
        this.end();
      },
      () => this.end(),
    );
  }
}

type Source = AsyncIterable<unknown> & LiveSource<unknown>;

/** Clients of one (document, variables, operation), and the source they share. */
class Group {
  readonly members = new Set<Member>();
  private readonly iterator: AsyncIterator<unknown>;
  private closed = false;
  private farewells: Promise<SharedPayload | null> | null = null;

  constructor(
    readonly key: string | null,
    private readonly source: Source,
    private readonly args: ExecutionArgs,
    private readonly mask: Mask,
    private readonly onClosed: (group: Group) => void,
  ) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  join(context: object | null): Member {
    const member = new Member(this, context);
    this.members.add(member);
    this.source.listeners = this.members.size;
    return member;
  }

  remove(member: Member): void {
    if (!this.members.delete(member)) return;
    if (this.members.size > 0) {
      this.source.listeners = this.members.size;
      return;
    }
    this.close();
  }

  /** Reads the source until it ends; one execution and one serialization per item, in order. */
  async pump(): Promise<void> {
    try {
      for (;;) {
        const { value, done } = await this.iterator.next();
        if (done || this.closed) break;
        const pending = this.payloadFor(value);
        const payload = pending instanceof Promise ? await pending : pending;
        for (const member of [...this.members]) member.deliver(payload);
      }
    } catch (error) {
      // A source that fails (an unknown execution id) fails its clients' operations, as it did theirs alone.
      for (const member of [...this.members]) member.failWith(error);
    } finally {
      for (const member of [...this.members]) member.end();
      this.close();
    }
  }

  /** The source's farewell for a dropped client, executed once per group. */
  farewell(reason: FellBehind): Promise<SharedPayload | null> {
    this.farewells ??= (async () => {
      const item = this.source.farewell?.(reason);
      return item === undefined ? null : await this.payloadFor(item);
    })();
    return this.farewells;
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClosed(this);
    void this.iterator.return?.().catch(() => undefined);
  }

  /** The item resolved through the operation's selection set as `execute` does for a subscription event, errors masked as Yoga masks them. */
  private payloadFor(item: unknown): SharedPayload | Promise<SharedPayload> {
    // A fresh budget per event: each is one execution (src/graphql/request-scope.ts).
    const contextValue = {
      ...(this.args.contextValue as object),
      scope: new RequestScope(),
    };
    const serialize = (result: ExecutionResult) => new SharedPayload(this.serialize(result));
    const result = execute({ ...this.args, contextValue, rootValue: item });
    return result instanceof Promise ? result.then(serialize) : serialize(result);
  }

  private serialize(result: ExecutionResult): string {
    const errors = result.errors?.map((error) => this.mask(error, 'Unexpected error.'));
    return JSON.stringify({
      data: result.data,
      ...(errors ? { errors } : {}),
      ...(result.extensions ? { extensions: result.extensions } : {}),
    });
  }
}

/** Clients by their operation's context (and, over HTTP, its request), until their transport attaches them. */
const membersByContext = new WeakMap<object, Member>();
const membersByRequest = new WeakMap<object, Member>();

/** The transport's connection for the client subscribed with `contextValue` (a no-op for operations the fan-out does not hold). */
export function attachSubscriber(contextValue: unknown, sink: SubscriberSink): void {
  if (typeof contextValue !== 'object' || contextValue === null) return;
  const member = membersByContext.get(contextValue);
  if (!member) return;
  membersByContext.delete(contextValue);
  member.attach(sink);
}

/** A stable key for variables: same values, same key, whatever their order. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${stableJson((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const printed = new WeakMap<DocumentNode, string>();
/** Schemas by identity: a group runs under the schema its first client validated against (services' fields can change it). */
const schemaIds = new WeakMap<object, number>();
let nextSchemaId = 0;

function groupKey(args: ExecutionArgs): string {
  let text = printed.get(args.document);
  if (text === undefined) {
    text = print(args.document);
    printed.set(args.document, text);
  }
  let schemaId = schemaIds.get(args.schema);
  if (schemaId === undefined) schemaIds.set(args.schema, (schemaId = nextSchemaId++));
  return `${schemaId}\n${args.operationName ?? ''}\n${stableJson(args.variableValues ?? {})}\n${text}`;
}

export interface SubscriptionFanout {
  /** Groups open now (for tests and metrics). */
  readonly groups: () => number;
}

/**
 * The Yoga plugin (last in the list, after access checks). `mask` is Yoga's
 * `maskedErrors.maskError`, applied to each event's errors as Yoga would.
 */
export function useSubscriptionFanout(mask: Mask): Plugin & SubscriptionFanout {
  const shared = new Map<string, Group | Promise<Group | null>>();
  const all = new Set<Group>();
  const eventStreams = new Set<Readable>();
  let pinging: NodeJS.Timeout | null = null;
  const ping = Buffer.from(':\n\n');

  /** Joins the group of `args`' operation, or opens its source and makes one. */
  const subscribe = (args: ExecutionArgs, open: (args: ExecutionArgs) => unknown): unknown => {
    const key = groupKey(args);
    const join = (group: Group) => {
      const context = typeof args.contextValue === 'object' && args.contextValue !== null ? (args.contextValue as { request?: object }) : null;
      const member = group.join(context);
      if (context) {
        membersByContext.set(context, member);
        if (context.request) membersByRequest.set(context.request, member);
      }
      return member.operation;
    };
    const existing = shared.get(key);
    // A group still opening (its source's resolver awaits): wait for it rather than open a second one.
    if (existing instanceof Promise) return existing.then((group) => (group && !group.isClosed ? join(group) : subscribe(args, open)));
    if (existing) return join(existing);

    const opened = (source: unknown): Group | null => {
      // Not a stream: errors at subscribe time (bad variables, a resolver's refusal), a result the usual hooks mask.
      if (!isAsyncIterable(source)) return null;
      const live = source as Source;
      const group: Group = new Group(live.shareable ? key : null, live, args, mask, (closed) => {
        all.delete(closed);
        if (closed.key !== null && shared.get(closed.key) === closed) shared.delete(closed.key);
      });
      all.add(group);
      return group;
    };
    let opening: Promise<Group | null> | null = null;
    /** The group made of an opened source (registered for others to join), and what this client's transport gets. */
    const start = (source: unknown): { group: Group | null; result: unknown } => {
      const group = opened(source);
      if (shared.get(key) === opening) shared.delete(key);
      if (!group) return { group, result: source };
      if (group.key !== null && !shared.has(key)) shared.set(key, group);
      const result = join(group);
      void group.pump();
      return { group, result };
    };
    let source: unknown;
    try {
      source = open(args);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!(source instanceof Promise)) return start(source).result;
    let settle: (group: Group | null) => void = () => undefined;
    opening = new Promise<Group | null>((resolve) => (settle = resolve));
    shared.set(key, opening);
    return source.then(
      (resolved) => {
        const { group, result } = start(resolved);
        settle(group?.key != null ? group : null);
        return result;
      },
      (error: unknown) => {
        if (shared.get(key) === opening) shared.delete(key);
        settle(null);
        throw error;
      },
    );
  };

  return {
    groups: () => all.size,
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(((args: ExecutionArgs) => subscribe(args, (a) => createSourceEventStream(a))) as never);
    },
    onResultProcess({ request, result, resultProcessor, setResultProcessor }) {
      const member = membersByRequest.get(request);
      if (!member) return;
      membersByRequest.delete(request);
      if (member.context) membersByContext.delete(member.context);
      // No event stream accepted (Yoga answers 406): the client never reads.
      if (!resultProcessor || !isAsyncIterable(result)) {
        member.leave();
        return;
      }
      setResultProcessor((processed, fetchAPI) => {
        const body = new Readable({ read() {} });
        const iterator = (processed as AsyncIterable<unknown>)[Symbol.asyncIterator]();
        const stop = () => void iterator.return?.(undefined)?.catch(() => undefined);
        body.push(ping);
        eventStreams.add(body);
        pinging ??= setInterval(() => {
          for (const stream of eventStreams) if (stream.readableLength === 0) stream.push(ping);
        }, SSE_PING_MS).unref();
        member.attach({
          buffered: () => body.readableLength,
          next: (payload) => body.push(payload.eventStreamBytes),
        });
        const done = () => {
          eventStreams.delete(body);
          if (eventStreams.size === 0 && pinging) {
            clearInterval(pinging);
            pinging = null;
          }
        };
        iterator.next().then(
          () => {
            if (!body.destroyed) {
              body.push('event: complete\ndata:\n\n');
              body.push(null);
            }
            done();
          },
          (error: unknown) => {
            body.destroy(error as Error);
            done();
          },
        );
        // The client went away: the route aborts the request's signal, the server destroys the body.
        request.signal.addEventListener('abort', stop, { once: true });
        body.once('close', () => {
          stop();
          done();
        });
        return new fetchAPI.Response(body as unknown as BodyInit, {
          status: 200,
          headers: {
            'Content-Type': 'text/event-stream',
            Connection: 'keep-alive',
            'Cache-Control': 'no-cache',
            'Content-Encoding': 'none',
          },
        });
      }, 'text/event-stream');
    },
  };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}
