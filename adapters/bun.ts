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
  Engine,
  type EngineInit,
  type NativeState,
  type NativeTopics,
  offerNativeTopics,
  type OptionsArgs,
  type Transport,
} from "../engine/mod.ts";
import {
  type AcceptedUpgrade,
  announceConnection,
  checkCallback,
  checkDeflate,
  engineInit,
  messageTooBig,
  protocolError,
  refuseUpgrade,
  setUp,
  upgradeHeaders,
  webUpgrades,
  withDrain,
} from "../engine/_kit.ts";
import type { RemoteAddr, WebSock } from "../websock.ts";

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

export type { BunServer, BunSocketData, BunWebSocket, BunWebSocketHandler } from "./_bun_api.ts";
import type { BunServer, BunSocketData, BunWebSocket, BunWebSocketHandler } from "./_bun_api.ts";
import { type BunHub, bunHubs, COMPRESS_FROM } from "./_bun_hub.ts";

export type { BunServe, BunServeOptions } from "./_bun_api.ts";
import type { BunServe, BunServeOptions } from "./_bun_api.ts";
import { REFUSED, SERVE_OPTIONS } from "./_bun_api.ts";

// One Bun socket's engine, which is its own transport (`ws` is set on open): one object per
// connection, so that a message reads one object on its way to the socket.
class BunSocket extends Engine<unknown, unknown, unknown> implements Transport {
  ws: BunWebSocket | undefined = undefined;
  dropped = false;
  readonly hub: BunHub;

  constructor(handler: WebSock<unknown, unknown, unknown>, init: EngineInit<unknown>, hub: BunHub) {
    super(handler, undefined, init);
    this.hub = hub;
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
}

// What `server.upgrade` attaches to the Bun socket (`ws.data`): its engine, and its native
// topics for pub/sub's fastlane (Bun's ws.subscribe + server.publish). Not the engine itself:
// NativeTopics' `state()` would clash with the engine's `state`.
class BunTopics implements BunSocketData, NativeTopics {
  readonly socket: BunSocket;

  constructor(socket: BunSocket) {
    this.socket = socket;
  }

  get hub(): BunHub {
    return this.socket.hub;
  }

  subscribe(topic: string): void {
    this.socket.ws!.subscribe(topic);
  }

  unsubscribe(topic: string): void {
    this.socket.ws!.unsubscribe(topic);
  }

  sent(data: string | Uint8Array): void {
    this.socket.countSent(data);
  }

  // A frame Bun publishes now is in order only when the engine has nothing running or queued
  // (Bun writes pending publications before a later send); over maxBufferedBytes, the frame
  // goes through the engine instead, whose slow-peer rule decides (Bun itself never drops).
  state(): NativeState {
    const socket = this.socket;
    if (!socket.accepting) return "closed";
    if (!socket.idle) return "busy";
    return socket.ws!.getBufferedAmount() > socket.hub.limit ? "full" : "ready";
  }
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
  engine.error(reason === "Received too big message" ? messageTooBig(max) : protocolError(reason));
}

const topicsOf = (ws: BunWebSocket): BunTopics => ws.data as BunTopics;
const socketOf = (ws: BunWebSocket): BunSocket => topicsOf(ws).socket;

// The peer's address, as Bun's server tells it.
function remoteAddr(request: Request, server: BunServer): RemoteAddr | null {
  const ip = server.requestIP(request);
  return ip === null ? null : { hostname: ip.address, port: ip.port };
}

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
  const setup = setUp(handler, options, "websockServe()", SERVE_OPTIONS, REFUSED);
  const { options: adapter, registry } = setup;
  const resolved = adapter.engine;
  const perMessageDeflate = checkDeflate(options.perMessageDeflate, false);
  const hubOf = bunHubs(resolved.maxBufferedBytes, perMessageDeflate);

  function accept(request: Request, server: BunServer, upgrade: AcceptedUpgrade) {
    const socket = new BunSocket(setup.handler, engineInit(upgrade, setup), hubOf(server));
    const headers = upgradeHeaders(new Headers(), upgrade);
    if (server.upgrade(request, { data: new BunTopics(socket), headers })) return undefined;
    socket.closed(1006, "");
    return refuseUpgrade(adapter, "Invalid WebSocket upgrade");
  }

  const fallback = checkCallback("fallback", options.fallback);
  const fetch = webUpgrades({ options: adapter, fallback, remoteAddr, accept });

  const websocket: BunWebSocketHandler = {
    open(ws) {
      const topics = topicsOf(ws);
      const socket = topics.socket;
      socket.ws = ws;
      offerNativeTopics(socket.connection, topics);
      announceConnection(adapter, socket.connection);
      socket.open();
    },
    message(ws, message) {
      socketOf(ws).receive(
        typeof message === "string"
          ? message
          : new Uint8Array(message.buffer, message.byteOffset, message.byteLength),
      );
    },
    ping: (ws, data) => socketOf(ws).control("ping", new Uint8Array(data)),
    pong: (ws, data) => socketOf(ws).control("pong", new Uint8Array(data)),
    close(ws, code, reason) {
      const socket = socketOf(ws);
      if (code === 1006 && reason !== "") bunClose(socket, reason, resolved.maxMessageBytes);
      socket.closed(code, reason);
    },
    maxPayloadLength: resolved.maxMessageBytes,
    backpressureLimit: 2 ** 32 - 1,
    idleTimeout: 0,
    sendPings: false,
    perMessageDeflate,
  };

  return withDrain({ fetch, websocket }, registry);
}
