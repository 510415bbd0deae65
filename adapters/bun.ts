/**
 * The Bun adapter: serve a {@linkcode WebSock} handler with `Bun.serve`'s `websocket` API.
 * Like the Node adapter it lets `handleControl` see pings and pongs, pushes ping and pong
 * frames and offers permessage-deflate (compressing what it sends); backpressure comes from
 * `getBufferedAmount()`.
 *
 * @example Serve a handler
 * ```ts ignore
 * import { ok, push, type WebSock } from "@websock/websock";
 * import { websockServe } from "@websock/websock/bun";
 *
 * const Echo = {
 *   init: () => ok(null),
 *   handleIn: (data, state) => push(data, state),
 * } satisfies WebSock<null>;
 *
 * Bun.serve({ port: 8080, ...websockServe(Echo) });
 * ```
 *
 * @module
 */

import {
  type AdapterOptions,
  checkHandler,
  Engine,
  isWebSocketUpgrade,
  type NativeHub,
  type NativeState,
  type NativeTopics,
  offerNativeTopics,
  type OptionsArgs,
  prepareUpgrade,
  Registry,
  rejectionResponse,
  reportRefusal,
  resolveAdapterOptions,
  type ResolvedEngineOptions,
  type ShutdownOptions,
  type Transport,
  whenReady,
  withCode,
} from "../engine/mod.ts";
import { announceConnection, checkCallback, NOT_AN_UPGRADE, showValue } from "../engine/_kit.ts";
import type { ConnectionInfo, WebSock } from "../websock.ts";

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
  InitTakesAnArgumentSoUpgradeMustReturnIt,
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
  /** Subscribe to a native topic. */
  subscribe(topic: string): void;
  /** Unsubscribe from a native topic. */
  unsubscribe(topic: string): void;
  /** Bytes queued toward the peer. */
  getBufferedAmount(): number;
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
  /** Send a frame to every socket subscribed to a native topic (returns bytes, not sockets). */
  publish(topic: string, data: string | Uint8Array, compress?: boolean): number;
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
  /** The socket closed. */
  close(ws: BunWebSocket, code: number, reason: string): void;
  /** Bun's own limit, from the `maxMessageBytes` option. */
  readonly maxPayloadLength: number;
  /**
   * Bun's own send-buffer limit, over which it drops messages: set out of the way (4 GiB), as
   * the engine closes a slow peer itself (`maxBufferedBytes`).
   */
  readonly backpressureLimit: number;
  /**
   * Bun's own keep-alive, off (`0`): the engine pings and closes silent peers itself (Bun's
   * timer is reset by every send, so it would keep a dead peer that the server writes to).
   */
  readonly idleTimeout: number;
  /** Bun's automatic pings, off with its keep-alive. */
  readonly sendPings: boolean;
  /** Whether to negotiate permessage-deflate. */
  readonly perMessageDeflate: boolean;
}

/** Options of {@linkcode websockServe}: the shared adapter options plus Bun's own. */
export interface BunServeOptions<A, M = unknown> extends AdapterOptions<A, M> {
  /**
   * Negotiate permessage-deflate; messages of 1 KiB and more are then sent compressed (Bun
   * compresses only what `send(data, true)` asks for).
   * @default {false}
   */
  perMessageDeflate?: boolean;
  /**
   * Answers requests that are not WebSocket upgrades.
   * @default {426 with Upgrade: websocket}
   */
  fallback?: (request: Request, server: BunServer) => Response | Promise<Response>;
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

// Messages at least this long are sent compressed when permessage-deflate is on (the
// threshold of `ws`, so both adapters compress the same messages).
const COMPRESS_FROM = 1024;

// One Bun socket: the engine's transport (`ws` is set on open), and its native topics for
// pub/sub's fastlane (Bun's ws.subscribe + server.publish).
class BunSocket implements Transport, NativeTopics {
  ws: BunWebSocket | undefined;
  dropped = false;
  readonly engine: Engine<unknown, unknown, unknown>;
  readonly hub: BunHub;

  constructor(
    handler: WebSock<unknown, unknown, unknown>,
    arg: unknown,
    info: ConnectionInfo,
    options: ResolvedEngineOptions,
    registry: Registry,
    hub: BunHub,
  ) {
    this.hub = hub;
    this.engine = new Engine(handler, this, {
      arg,
      info,
      options,
      registry,
    });
  }

  #send(data: string | Uint8Array, size: number): void {
    // 0: Bun dropped it; report the buffer as overfull so the engine closes with 1008.
    if (this.ws!.send(data, this.hub.compress && size >= COMPRESS_FROM) === 0) this.dropped = true;
  }

  sendText(data: string): void {
    this.#send(data, data.length);
  }

  sendBinary(data: Uint8Array): void {
    this.#send(data, data.byteLength);
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
    return this.dropped ? Number.MAX_SAFE_INTEGER : this.ws!.getBufferedAmount();
  }

  subscribe(topic: string): void {
    this.ws!.subscribe(topic);
  }

  unsubscribe(topic: string): void {
    this.ws!.unsubscribe(topic);
  }

  sent(data: string | Uint8Array): void {
    this.engine.countSent(data);
  }

  // A frame Bun publishes now is in order only when the engine has nothing running or queued
  // (Bun writes pending publications before a later send); over maxBufferedBytes, the frame
  // goes through the engine instead, whose slow-peer rule decides (Bun itself never drops).
  state(): NativeState {
    const engine = this.engine;
    if (!engine.accepting) return "closed";
    if (!engine.idle) return "busy";
    return this.ws!.getBufferedAmount() > this.hub.limit ? "full" : "ready";
  }
}

// One server's native topics, and what its sockets share: the slow-peer limit and whether to
// compress. The flag is always given to `server.publish`, as to `send`: the same messages are
// compressed whichever way they go.
interface BunHub extends NativeHub {
  readonly limit: number;
  readonly compress: boolean;
}

function bunHub(server: BunServer, limit: number, compress: boolean): BunHub {
  return {
    limit,
    compress,
    publish(topic, data) {
      const size = typeof data === "string" ? data.length : data.byteLength;
      server.publish(topic, data, compress && size >= COMPRESS_FROM);
    },
  };
}

// Bun reports every close it starts itself as 1006 with a reason (and sends the peer 1002,
// 1007 or 1009 with that reason): a protocol error of the peer or a too-big message (its idle
// timeout, "WebSocket timed out from inactivity", is off). A peer cannot close with 1006 (Bun
// refuses that code), and a dropped TCP connection comes with no reason, so 1006 with a reason
// is Bun's own close. Its reasons (Bun 1.4.4): "Received invalid UTF-8", "Received invalid
// opcode", "Received unexpected RSV1 bit", "Received unexpected RSV2 or RSV3 bit", "Received
// too big control frame", "Received fragmented control frame", "Received invalid close code",
// "Received invalid close payload", "Received an incorrectly masked frame", "Received
// continuation frame outside a fragmented message", "Received new message inside a fragmented
// message", "Received invalid compressed data", "Received too big message".
function bunClose(engine: Engine<unknown, unknown, unknown>, reason: string, max: number): void {
  if (reason === "Received too big message") {
    const message = `Cannot receive message: more than maxMessageBytes ${max}`;
    engine.error(withCode(new RangeError(message), "MESSAGE_TOO_BIG"));
  } else {
    const message = `The peer broke the WebSocket protocol: ${reason}`;
    engine.error(withCode(new Error(message), "PROTOCOL_ERROR"));
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
 * ```ts
 * import { ok, push, type WebSock } from "@websock/websock";
 * import { websockServe } from "@websock/websock/bun";
 *
 * // Bun's global, typed for Deno's checker (under Bun with @types/bun, use `Bun` directly).
 * const Bun = (globalThis as { Bun?: { serve(options: object): { stop(): void } } }).Bun;
 *
 * const Echo = {
 *   init: () => ok(null),
 *   handleIn: (data, state) => push(data, state),
 * } satisfies WebSock<null>;
 *
 * const ws = websockServe(Echo, { perMessageDeflate: true });
 * if (Bun) { // under Bun
 *   const server = Bun.serve({ hostname: "127.0.0.1", port: 8080, ...ws });
 *   // On the way out: drain the connections (1001), then stop the server.
 *   await ws.shutdown();
 *   server.stop();
 * }
 * ```
 */
export function websockServe<S, M, A>(
  handler: WebSock<S, M, A>,
  ...optionsWithUpgradeHookWhenInitTakesAnArgument: OptionsArgs<BunServeOptions<A, M>, A>
): BunServe {
  const [options = {}] = optionsWithUpgradeHookWhenInitTakesAnArgument;
  checkHandler(handler, "websockServe()");
  const adapter = resolveAdapterOptions(options, ["perMessageDeflate", "fallback"], {
    bunIdleTimeout: "it was removed, the engine's timeout (ms) keeps peers alive",
  });
  const resolved = adapter.engine;
  const fallback = checkCallback("fallback", options.fallback);
  const perMessageDeflate = options.perMessageDeflate ?? false;
  if (typeof perMessageDeflate !== "boolean") {
    throw new TypeError(
      `Invalid option perMessageDeflate: ${showValue(perMessageDeflate)} is not a boolean`,
    );
  }
  const registry = new Registry();
  const generic = handler as WebSock<unknown, unknown, unknown>;
  const hubs = new WeakMap<BunServer, BunHub>();

  function open(
    request: Request,
    server: BunServer,
    info: ConnectionInfo,
    arg: unknown,
    extraHeaders: readonly [string, string][],
  ) {
    let hub = hubs.get(server);
    if (hub === undefined) {
      hubs.set(server, hub = bunHub(server, resolved.maxBufferedBytes, perMessageDeflate));
    }
    const socket = new BunSocket(generic, arg, info, resolved, registry, hub);
    const headers = new Headers(extraHeaders as [string, string][]);
    if (info.protocol !== "") headers.set("sec-websocket-protocol", info.protocol);
    if (server.upgrade(request, { data: { socket }, headers })) return undefined;
    socket.engine.closed(1006, "");
    reportRefusal(adapter, 400, "Invalid WebSocket upgrade");
    return rejectionResponse({ status: 400, reason: "Invalid WebSocket upgrade" });
  }

  function fetch(request: Request, server: BunServer) {
    if (!isWebSocketUpgrade(request.headers)) {
      return fallback ? fallback(request, server) : rejectionResponse(NOT_AN_UPGRADE);
    }
    const ip = server.requestIP(request);
    const prepared = prepareUpgrade(adapter, {
      method: request.method,
      url: request.url,
      headers: request.headers,
      remoteAddr: ip === null ? null : { hostname: ip.address, port: ip.port },
      allHeaders: () => new Headers(request.headers),
      request: () => request,
    });
    return whenReady(prepared, (p) => {
      return p.accept ? open(request, server, p.info, p.arg, p.headers) : p.response;
    });
  }

  const websocket: BunWebSocketHandler = {
    open(ws) {
      const socket = socketOf(ws);
      socket.ws = ws;
      offerNativeTopics(socket.engine.connection, socket);
      announceConnection(adapter, socket.engine.connection);
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
    close(ws, code, reason) {
      const { engine } = socketOf(ws);
      if (code === 1006 && reason !== "") bunClose(engine, reason, resolved.maxMessageBytes);
      engine.closed(code, reason);
    },
    maxPayloadLength: resolved.maxMessageBytes,
    backpressureLimit: 2 ** 32 - 1,
    idleTimeout: 0,
    sendPings: false,
    perMessageDeflate,
  };

  return {
    fetch,
    websocket,
    shutdown: (shutdownOptions) => registry.shutdown(shutdownOptions),
    registry,
  };
}
