/**
 * The Bun adapter: serve a {@linkcode WebSock} handler with `Bun.serve`'s `websocket` API.
 * Like the Node adapter it lets `handleControl` see pings and pongs, pushes ping and pong
 * frames and offers permessage-deflate; backpressure comes from `send()`'s return value.
 *
 * @example Serve a handler
 * ```ts ignore
 * import { ok, push, type WebSock } from "@websock/websock";
 * import { websockServe } from "@websock/websock/bun";
 *
 * const Echo = {
 *   init: () => ok(null),
 *   handleIn: (data, state) => push(data, state),
 *   handleInfo: (_message, state) => ok(state),
 * } satisfies WebSock<null>;
 *
 * Bun.serve({ port: 8080, ...websockServe(Echo) });
 * ```
 *
 * @module
 */

import {
  checkCount,
  checkOrigin,
  checkOriginPolicy,
  checkProtocols,
  checkUpgrade,
  Engine,
  type EngineOptions,
  isWebSocketUpgrade,
  negotiateProtocol,
  NOT_AN_UPGRADE,
  type OriginPolicy,
  Registry,
  type Rejection,
  type ResolvedEngineOptions,
  resolveEngineOptions,
  type ShutdownOptions,
  type Transport,
} from "../engine.ts";
import type { Connection, ConnectionInfo, WebSock } from "../websock.ts";

export { Registry, type ShutdownOptions } from "../engine.ts";

/** The part of Bun's `ServerWebSocket` the adapter uses. */
export interface BunWebSocket {
  /** What `server.upgrade` attached: the connection's engine. */
  readonly data: BunSocketData;
  /** Send a frame: bytes sent, `-1` when queued under backpressure, `0` when dropped. */
  send(data: string | Uint8Array, compress?: boolean): number;
  /** Send a ping. */
  ping(data?: Uint8Array): number;
  /** Send a pong. */
  pong(data?: Uint8Array): number;
  /** Close with a code and reason. */
  close(code?: number, reason?: string): void;
}

/** What the adapter attaches to each Bun socket. */
export interface BunSocketData {
  /** The connection's transport and engine. */
  readonly socket: unknown;
}

/** The part of Bun's `Server` the adapter uses. */
export interface BunServer {
  /** Upgrade a request; `false` when it is not a valid upgrade. */
  upgrade(request: Request, options: { data: BunSocketData; headers?: HeadersInit }): boolean;
  /** The peer's address. */
  requestIP(request: Request): { address: string; port: number } | null;
}

/** The `websocket` member of `Bun.serve`'s options, as the adapter fills it. */
export interface BunWebSocketHandler {
  /** The socket opened. */
  open(ws: BunWebSocket): void;
  /** A data message arrived. */
  message(ws: BunWebSocket, message: string | Uint8Array): void;
  /** A ping arrived (Bun has answered it). */
  ping(ws: BunWebSocket, data: Uint8Array): void;
  /** A pong arrived. */
  pong(ws: BunWebSocket, data: Uint8Array): void;
  /** The socket can take more data. */
  drain(ws: BunWebSocket): void;
  /** The socket closed. */
  close(ws: BunWebSocket, code: number, reason: string): void;
  /** Bun's own limit: {@linkcode EngineOptions.maxMessageBytes}. */
  readonly maxPayloadLength: number;
  /** Bun's own limit: {@linkcode EngineOptions.maxBufferedBytes}. */
  readonly backpressureLimit: number;
  /** Bun's keep-alive in seconds (`0`: off); the engine's `timeout` is separate. */
  readonly idleTimeout: number;
  /** Whether to negotiate permessage-deflate. */
  readonly perMessageDeflate: boolean;
}

/** Options of {@linkcode websockServe}. */
export interface BunServeOptions<A, M = unknown> extends EngineOptions {
  /**
   * Subprotocols the server speaks, preferred first (400 when the client offers only others).
   * @default {[]}
   */
  protocols?: readonly string[];
  /**
   * Which `Origin`s may connect (403 otherwise). See {@linkcode OriginPolicy}.
   * @default {"same-origin"}
   */
  origins?: OriginPolicy;
  /**
   * Negotiate permessage-deflate.
   * @default {false}
   */
  perMessageDeflate?: boolean;
  /**
   * Bun's own keep-alive (`idleTimeout` of its `websocket` options), in seconds: Bun pings
   * and closes a silent peer. `0` turns it off.
   * @default {120}
   */
  bunIdleTimeout?: number;
  /**
   * Runs before the upgrade, once the request is valid: returns the argument `init` receives,
   * or a `Response` to refuse the upgrade. May be async.
   * @default {None: init receives undefined}
   */
  upgrade?: (request: Request, info: ConnectionInfo) => A | Response | Promise<A | Response>;
  /**
   * Answers requests that are not WebSocket upgrades.
   * @default {426 with Upgrade: websocket}
   */
  fallback?: (request: Request, server: BunServer) => Response | Promise<Response>;
  /**
   * Called with each new connection's handle: the caller's way to its mailbox.
   * @default {None}
   */
  onConnection?: (connection: Connection<M>) => void;
}

/** What to spread into `Bun.serve`'s options: `fetch` and `websocket`, plus shutdown. */
export interface BunServe {
  /** Upgrade, refuse or pass on one request. */
  fetch(request: Request, server: BunServer): Response | undefined | Promise<Response | undefined>;
  /** The WebSocket handlers and limits. */
  readonly websocket: BunWebSocketHandler;
  /** Close every connection (1001, or 1012 with `restart`); resolves once all are over. */
  shutdown(options?: ShutdownOptions): Promise<void>;
  /** The live connections. */
  readonly registry: Registry;
}

function refuse(rejection: Rejection): Response {
  return new Response(rejection.reason + "\n", {
    status: rejection.status,
    headers: { "content-type": "text/plain; charset=utf-8", ...rejection.headers },
  });
}

// One Bun socket: the engine's transport (`ws` is set on open).
class BunSocket implements Transport {
  ws: BunWebSocket | undefined;
  buffered = 0;
  readonly engine: Engine<unknown, unknown, unknown>;

  constructor(
    handler: WebSock<unknown, unknown, unknown>,
    arg: unknown,
    info: ConnectionInfo,
    options: ResolvedEngineOptions,
    registry: Registry,
  ) {
    this.engine = new Engine(handler, this, {
      arg,
      info,
      options,
      onDone: (engine) => registry.delete(engine),
    });
    registry.add(this.engine);
  }

  #sent(size: number, result: number): void {
    // -1: queued behind backpressure (drain resets the count); 0: dropped, so report the
    // buffer as overfull and the engine closes with 1008 at its next look.
    if (result === -1) this.buffered += size;
    else if (result === 0) this.buffered = Number.MAX_SAFE_INTEGER;
  }

  sendText(data: string): void {
    this.#sent(data.length, this.ws!.send(data));
  }

  sendBinary(data: Uint8Array): void {
    this.#sent(data.byteLength, this.ws!.send(data));
  }

  sendPing(data: Uint8Array): void {
    this.ws!.ping(data);
  }

  sendPong(data: Uint8Array): void {
    this.ws!.pong(data);
  }

  close(code: number, reason: string): void {
    this.ws?.close(code, reason);
  }

  bufferedAmount(): number {
    return this.buffered;
  }
}

const socketOf = (ws: BunWebSocket): BunSocket => ws.data.socket as BunSocket;

/**
 * Make the `fetch` and `websocket` members of `Bun.serve`'s options that serve every
 * WebSocket upgrade with `handler`: `Bun.serve({ port, ...websockServe(Handler) })`.
 *
 * @param handler The behaviour that serves each connection.
 * @param options Upgrade hook, fallback, limits, origin policy, subprotocols, compression.
 * @returns `fetch` and `websocket`, with `shutdown()` to drain the connections.
 * @throws {TypeError|RangeError} When an option is invalid.
 *
 * @example
 * ```ts ignore
 * import { websockServe } from "@websock/websock/bun";
 * import { Echo } from "./echo.ts";
 *
 * const ws = websockServe(Echo, { perMessageDeflate: true });
 * const server = Bun.serve({ port: 8080, ...ws });
 * // later: await ws.shutdown(); server.stop();
 * ```
 */
export function websockServe<S, M, A>(
  handler: WebSock<S, M, A>,
  options: BunServeOptions<A, M> = {},
): BunServe {
  const resolved = resolveEngineOptions(options);
  const protocols = checkProtocols(options.protocols ?? []);
  const origins = checkOriginPolicy(options.origins ?? "same-origin");
  const idleTimeout = checkCount("bunIdleTimeout", options.bunIdleTimeout ?? 120, 0);
  const { upgrade: hook, fallback } = options;
  if (hook !== undefined && typeof hook !== "function") {
    throw new TypeError(`Invalid option upgrade: ${String(hook)} is not a function`);
  }
  const registry = new Registry();
  const generic = handler as WebSock<unknown, unknown, unknown>;

  function open(request: Request, server: BunServer, info: ConnectionInfo, arg: unknown) {
    const socket = new BunSocket(generic, arg, info, resolved, registry);
    const headers = info.protocol === "" ? undefined : { "sec-websocket-protocol": info.protocol };
    if (server.upgrade(request, { data: { socket }, headers })) return undefined;
    socket.engine.closed(1006, "");
    return refuse({ status: 400, reason: "Invalid WebSocket upgrade" });
  }

  async function openAfterHook(
    request: Request,
    server: BunServer,
    info: ConnectionInfo,
    pending: A | Response | Promise<A | Response>,
  ): Promise<Response | undefined> {
    let arg: A | Response;
    try {
      arg = await pending;
    } catch (error) {
      try {
        resolved.onError(error, { source: "upgrade" });
      } catch {
        // The error hook must not turn a refused upgrade into a crash.
      }
      return new Response("Internal Server Error\n", { status: 500 });
    }
    return arg instanceof Response ? arg : open(request, server, info, arg);
  }

  function fetch(request: Request, server: BunServer) {
    if (!isWebSocketUpgrade(request.headers)) {
      return fallback ? fallback(request, server) : refuse(NOT_AN_UPGRADE);
    }
    const rejection = checkUpgrade(request.method, request.headers) ??
      checkOrigin(origins, request.headers);
    if (rejection) return refuse(rejection);
    const protocol = negotiateProtocol(request.headers, protocols);
    if (typeof protocol !== "string") return refuse(protocol);
    const ip = server.requestIP(request);
    const info: ConnectionInfo = {
      url: request.url,
      headers: new Headers(request.headers),
      remoteAddr: ip === null ? null : { hostname: ip.address, port: ip.port },
      protocol,
    };
    if (hook === undefined) return open(request, server, info, undefined);
    return openAfterHook(request, server, info, new Promise((r) => r(hook(request, info))));
  }

  const websocket: BunWebSocketHandler = {
    open(ws) {
      const socket = socketOf(ws);
      socket.ws = ws;
      options.onConnection?.(socket.engine.connection as Connection<M>);
      socket.engine.open();
    },
    message(ws, message) {
      socketOf(ws).engine.receive(
        typeof message === "string"
          ? message
          : new Uint8Array(message.buffer, message.byteOffset, message.byteLength),
      );
    },
    ping: (ws, data) => socketOf(ws).engine.control("ping", new Uint8Array(data)),
    pong: (ws, data) => socketOf(ws).engine.control("pong", new Uint8Array(data)),
    drain(ws) {
      socketOf(ws).buffered = 0;
    },
    close(ws, code, reason) {
      const { engine } = socketOf(ws);
      // Bun closes on a too-big message itself (1009 on the wire, 1006 here): make it an error.
      if (reason === "Received too big message") {
        engine.error(
          new RangeError(
            `Cannot receive message: more than maxMessageBytes ${resolved.maxMessageBytes}`,
          ),
        );
      }
      engine.closed(code, reason);
    },
    maxPayloadLength: resolved.maxMessageBytes,
    backpressureLimit: resolved.maxBufferedBytes,
    idleTimeout,
    perMessageDeflate: options.perMessageDeflate ?? false,
  };

  return {
    fetch,
    websocket,
    shutdown: (shutdownOptions) => registry.shutdown(shutdownOptions),
    registry,
  };
}
