/**
 * The Deno adapter: serve a {@linkcode WebSock} handler with `Deno.serve` (or `deno serve`)
 * over `Deno.upgradeWebSocket`.
 *
 * @example Serve a handler
 * ```ts ignore
 * import { ok, push, type WebSock } from "@websock/websock";
 * import { websockHandler } from "@websock/websock/deno";
 *
 * const Echo = {
 *   init: () => ok(null),
 *   handleIn: (data, state) => push(data, state),
 * } satisfies WebSock<null>;
 *
 * Deno.serve(websockHandler(Echo));
 * ```
 *
 * @module
 */

import {
  type AdapterOptions,
  connectionInfo,
  Engine,
  extraResponseHeaders,
  isWebSocketUpgrade,
  keptHeaders,
  type OptionsArgs,
  Registry,
  rejectionResponse,
  reportRefusal,
  resolveAdapterOptions,
  type ResolvedAdapterOptions,
  type ResolvedEngineOptions,
  type ShutdownOptions,
  type Transport,
  vetUpgrade,
  withUpgradeHook,
} from "../engine/mod.ts";
import { announceConnection, checkCallback, NOT_AN_UPGRADE } from "../engine/_kit.ts";
import type { ConnectionInfo, RemoteAddr, WebSock } from "../websock.ts";

export type {
  BinaryMessage,
  CallbackResult,
  CloseDetail,
  Connection,
  ConnectionInfo,
  ControlFrame,
  ControlMessage,
  OkResult,
  Outbound,
  OutMessage,
  PushResult,
  RemoteAddr,
  Result,
  StopReason,
  StopResult,
  TerminateReason,
  TextMessage,
  WebSock,
} from "../websock.ts";

export type {
  AdapterOptions,
  CallbackErrorEvent,
  CallbackName,
  Clock,
  CloseFrame,
  ConnectionStartEvent,
  ConnectionStats,
  ConnectionStopEvent,
  Drainable,
  EngineOptions,
  ErrorContext,
  ErrorSource,
  HeaderReader,
  MailboxDropEvent,
  OptionsArgs,
  OriginPolicy,
  SlowPeerEvent,
  Telemetry,
  Traffic,
  UpgradeHook,
  UpgradeRefusedEvent,
  UpgradeResponse,
} from "../engine/mod.ts";

export { Registry, type ShutdownOptions } from "../engine/mod.ts";

/**
 * The options of the Deno adapter: the shared adapter options (Deno's keep-alive follows
 * `timeout`; `keepHeaders` is shared too).
 */
export type DenoOptions<A, M = unknown> = AdapterOptions<A, M>;

/** Options of {@linkcode upgrade}: those of the adapter, without a hook (`arg` is given). */
export interface UpgradeOptions<M = unknown> extends Omit<DenoOptions<never, M>, "upgrade"> {
  /**
   * Where the connection is tracked, so that `registry.shutdown()` can drain it.
   * @default {None}
   */
  registry?: Registry;
  /**
   * The peer's address, from `Deno.serve`'s handler info.
   * @default {None: remoteAddr is null}
   */
  info?: Deno.ServeHandlerInfo;
  /**
   * Headers to add to the 101 response, such as a session cookie (the handshake's own are
   * ignored).
   * @default {None}
   */
  headers?: HeadersInit;
}

/**
 * The arguments of {@linkcode upgrade} after the handler: the argument `init` receives, then
 * the options. `arg` may be left out when `init` takes none (`A` admits `undefined`):
 * `upgrade(request, Echo)`, or `upgrade(request, Echo, undefined, { registry })`.
 *
 * @typeParam A The argument `init` receives.
 * @typeParam M The mailbox messages.
 */
export type UpgradeArgs<A, M = unknown> = undefined extends A
  ? [arg?: A, options?: UpgradeOptions<M>]
  : [arg: A, options?: UpgradeOptions<M>];

/** Options of {@linkcode websockHandler}. */
export interface WebSockHandlerOptions<A, M = unknown> extends DenoOptions<A, M> {
  /**
   * Answers requests that are not WebSocket upgrades.
   * @default {426 with Upgrade: websocket}
   */
  fallback?: (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;
}

/** A `Deno.serve` handler that serves WebSocket connections, and drains them. */
export interface WebSockHandler {
  /** Answer one request: upgrade it, refuse it, or pass it to the fallback. */
  (request: Request, info?: Deno.ServeHandlerInfo): Response | Promise<Response>;
  /**
   * Close every connection of this handler (1001, or 1012 with `restart`) so that each
   * `terminate` sees `shutdown`; resolves once all of them are over. Call it before
   * `server.shutdown()`.
   */
  shutdown(options?: ShutdownOptions): Promise<void>;
  /** The handler's live connections. */
  readonly registry: Registry;
}

interface Resolved {
  readonly adapter: ResolvedAdapterOptions<unknown, unknown>;
  /** Deno's keep-alive in seconds: `timeout`, which Deno runs (ping at half, close at the end). */
  readonly idleTimeout: number;
}

const resolvedCache = new WeakMap<object, Resolved>();

function resolve(options: DenoOptions<unknown, unknown>): Resolved {
  let resolved = resolvedCache.get(options);
  if (resolved === undefined) {
    if ("denoIdleTimeout" in options) {
      throw new TypeError(
        "Invalid option denoIdleTimeout: it was removed, Deno's keep-alive follows timeout (ms)",
      );
    }
    const adapter = resolveAdapterOptions(options);
    resolved = {
      adapter,
      idleTimeout: adapter.engine.timeout / 1000,
    };
    resolvedCache.set(options, resolved);
  }
  return resolved;
}

// Validate the request; the connection info when it may be upgraded, a 4xx when not.
function vet(
  request: Request,
  resolved: Resolved,
  serveInfo: Deno.ServeHandlerInfo | undefined,
): ConnectionInfo | Response {
  const protocol = vetUpgrade(request.method, request.headers, resolved.adapter);
  if (typeof protocol !== "string") return rejectionResponse(protocol);
  const addr = serveInfo?.remoteAddr as Partial<Deno.NetAddr> | undefined;
  const remoteAddr: RemoteAddr | null = addr?.hostname === undefined
    ? null
    : { hostname: addr.hostname, port: addr.port ?? 0 };
  const all = () => new Headers(request.headers);
  const headers = keptHeaders(resolved.adapter, request.headers, all);
  return connectionInfo(request.url, headers, remoteAddr, protocol);
}

const ONCE = { once: true };

// Close one macrotask later, never from inside Deno's read loop. Deno writes the close frame
// in a lazy op, polled at the next event-loop turn; while input is buffered, its read loop
// runs in microtasks, and a data frame it reads after `close()` makes it drop the socket at
// once: the close frame never goes out and the unread input resets TCP (a flooding peer saw
// no 1011/1013). A timer runs only once that loop waits for input, so the op is polled
// before the next frame can be read. The timer is cleared if the socket closes first (the
// peer's close, or `server.shutdown()`), so that nothing is left pending.
function closeSocket(socket: WebSocket, code: number, reason: string): void {
  socket.close(code, reason);
}

// The turns after a drain in which the deferred closes run and their close frames are
// written: `server.shutdown()` right after would otherwise send its own 1001 to every socket
// whose frame is not out yet (a restart's 1012 was lost).
async function closeFramesOut(): Promise<void> {
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setTimeout(resolve, 0));
}

// One WebSocket: the engine's transport, and the listener of the socket's events.
class DenoSocket implements Transport, EventListenerObject {
  // Deno pings and closes dead peers itself (idleTimeout = timeout); JavaScript never sees
  // the pongs, so the engine must not close a silent peer.
  readonly runtimeKeepAlive = true;
  readonly #socket: WebSocket;
  readonly engine: Engine<unknown, unknown, unknown>;
  // A close asked for before the socket opened (Deno ignores close() while CONNECTING).
  #closeOnOpen: { code: number; reason: string } | undefined;
  // The timer of a close waiting for its turn (see closeSocket).
  #closeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    socket: WebSocket,
    handler: WebSock<unknown, unknown, unknown>,
    arg: unknown,
    info: ConnectionInfo,
    options: ResolvedEngineOptions,
    registry: Registry | undefined,
  ) {
    this.#socket = socket;
    this.engine = new Engine(handler, this, {
      arg,
      info,
      options,
      registry,
    });
    socket.addEventListener("open", this, ONCE); // dropped once fired: less per idle socket
    socket.addEventListener("message", this);
    socket.addEventListener("error", this);
    socket.addEventListener("close", this);
  }

  handleEvent(event: Event): void {
    switch (event.type) {
      case "message": {
        const data = (event as MessageEvent).data;
        this.engine.receive(typeof data === "string" ? data : new Uint8Array(data));
        break;
      }
      case "open":
        if (this.#closeOnOpen) {
          this.#closeLater(this.#closeOnOpen.code, this.#closeOnOpen.reason);
        } else this.engine.open();
        break;
      case "error": {
        const message = (event as ErrorEvent).message ?? "WebSocket error";
        this.engine.error(new Error(message), message.startsWith("No response from ping frame"));
        break;
      }
      case "close": {
        clearTimeout(this.#closeTimer);
        const { code, reason } = event as CloseEvent;
        this.engine.closed(code, reason);
        break;
      }
    }
  }

  sendText(data: string): void {
    this.#socket.send(data);
  }

  sendBinary(data: Uint8Array): void {
    this.#socket.send(data);
  }

  close(code: number, reason: string): void {
    if (this.#socket.readyState === WebSocket.CONNECTING) this.#closeOnOpen = { code, reason };
    else this.#closeLater(code, reason);
  }

  #closeLater(code: number, reason: string): void {
    this.#closeTimer ??= setTimeout(closeSocket, 0, this.#socket, code, reason);
  }

  bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }
}

// Upgrade for real: the 101 response, with the connection running behind it.
function accept(
  request: Request,
  handler: WebSock<unknown, unknown, unknown>,
  arg: unknown,
  info: ConnectionInfo,
  resolved: Resolved,
  registry: Registry | undefined,
  extraHeaders: readonly [string, string][],
): Response {
  let upgraded: { socket: WebSocket; response: Response };
  try {
    upgraded = Deno.upgradeWebSocket(request, { idleTimeout: resolved.idleTimeout });
  } catch (error) {
    const reason = (error as Error).message;
    reportRefusal(resolved.adapter, 400, reason);
    return rejectionResponse({ status: 400, reason });
  }
  // Deno matches its `protocol` option against the client's list split on ", " only, so
  // the adapter negotiates itself and sets the header on the (mutable) 101 response.
  const headers = upgraded.response.headers;
  if (info.protocol !== "") headers.set("sec-websocket-protocol", info.protocol);
  for (const [name, value] of extraHeaders) headers.append(name, value);
  const { engine } = new DenoSocket(
    upgraded.socket,
    handler,
    arg,
    info,
    resolved.adapter.engine,
    registry,
  );
  announceConnection(resolved.adapter, engine.connection);
  return upgraded.response;
}

/**
 * Upgrade one request to a WebSocket served by `handler`, for use inside your own routing.
 * The request is validated first (RFC 6455 §4.2.1, origin, subprotocol).
 *
 * @param request The upgrade request.
 * @param handler The behaviour that serves the connection.
 * @param arg The argument `init` receives: required when `init` takes one (a missing or
 *   wrong `arg` is a compile error), and may be left out when it takes none.
 * @param options Limits, origin policy, subprotocols, registry, handler info, 101 headers.
 * @returns The 101 response, or a 4xx with a plain-text reason.
 * @throws {TypeError|RangeError} When an option is invalid.
 *
 * @example Route by path
 * ```ts
 * import { ok, push, type WebSock } from "@websock/websock";
 * import { Registry, upgrade } from "@websock/websock/deno";
 *
 * const Room = {
 *   init: (room: string) => ok({ room }),
 *   handleIn: (_data, state) => ok(state),
 * } satisfies WebSock<{ room: string }>;
 *
 * const Echo = {
 *   init: () => ok(null),
 *   handleIn: (data, state) => push(data, state),
 * } satisfies WebSock<null>;
 *
 * const registry = new Registry();
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0 }, (request, info) => {
 *   const { pathname } = new URL(request.url);
 *   if (pathname.startsWith("/rooms/")) {
 *     return upgrade(request, Room, pathname.slice(7), { registry, info });
 *   }
 *   if (pathname === "/echo") return upgrade(request, Echo); // init takes no argument
 *   return new Response("Not found", { status: 404 });
 * });
 * // On the way out: drain the connections, then stop the server.
 * await registry.shutdown();
 * await server.shutdown();
 * ```
 */
export function upgrade<S, M, A>(
  request: Request,
  handler: WebSock<S, M, A>,
  ...[arg, options = {}]: UpgradeArgs<A, M>
): Response {
  const resolved = resolve(options as DenoOptions<unknown, unknown>);
  const info = vet(request, resolved, options.info);
  if (info instanceof Response) return info;
  const generic = handler as WebSock<unknown, unknown, unknown>;
  const headers = options.headers === undefined
    ? []
    : extraResponseHeaders(new Headers(options.headers));
  return accept(request, generic, arg, info, resolved, options.registry, headers);
}

/**
 * Make a `Deno.serve` handler that serves every WebSocket upgrade with `handler`: use it as
 * `Deno.serve(websockHandler(Handler))` or `export default { fetch: websockHandler(Handler) }`.
 *
 * @param handler The behaviour that serves each connection.
 * @param options Upgrade hook, fallback, limits, origin policy, subprotocols. Required, with
 *   the `upgrade` hook, when the handler's `init` takes an argument: the hook returns it.
 * @returns The request handler, with `shutdown()` to drain its connections.
 * @throws {TypeError|RangeError} When an option is invalid.
 *
 * @example With authentication
 * ```ts
 * import { ok, type WebSock } from "@websock/websock";
 * import { websockHandler } from "@websock/websock/deno";
 *
 * const Chat = {
 *   init: (user: string) => ok({ user }),
 *   handleIn: (_data, state) => ok(state),
 * } satisfies WebSock<{ user: string }>;
 *
 * const handler = websockHandler(Chat, {
 *   upgrade(request) {
 *     const user = new URL(request.url).searchParams.get("user");
 *     return user ?? new Response("Who are you?", { status: 401 });
 *   },
 * });
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0 }, handler);
 * // On the way out: drain the connections (1001), then stop the server.
 * await handler.shutdown();
 * await server.shutdown();
 * ```
 */
export function websockHandler<S, M, A>(
  handler: WebSock<S, M, A>,
  ...[options = {}]: OptionsArgs<WebSockHandlerOptions<A, M>, A>
): WebSockHandler {
  const resolved = resolve(options as DenoOptions<unknown, unknown>);
  const fallback = checkCallback("fallback", options.fallback);
  const registry = new Registry();
  const generic = handler as WebSock<unknown, unknown, unknown>;
  const refuse = (response: Response) => response;

  function serve(
    request: Request,
    serveInfo?: Deno.ServeHandlerInfo,
  ): Response | Promise<Response> {
    if (!isWebSocketUpgrade(request.headers)) {
      return fallback ? fallback(request, serveInfo!) : rejectionResponse(NOT_AN_UPGRADE);
    }
    const info = vet(request, resolved, serveInfo);
    if (info instanceof Response) return info;
    return withUpgradeHook(
      resolved.adapter,
      request,
      info,
      (arg, headers) => accept(request, generic, arg, info, resolved, registry, headers),
      refuse,
    );
  }

  return Object.assign(serve, {
    async shutdown(shutdownOptions?: ShutdownOptions) {
      await registry.shutdown(shutdownOptions);
      await closeFramesOut();
    },
    registry,
  });
}
