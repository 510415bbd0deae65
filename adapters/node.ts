/**
 * The Node adapter: serve a {@linkcode WebSock} handler on a `node:http` server's `upgrade`
 * event with [`ws`](https://github.com/websockets/ws), under Node or Deno's Node
 * compatibility. Unlike Deno's own WebSocket, it lets `handleControl` see pings and pongs,
 * pushes ping and pong frames, and offers permessage-deflate. `ws` uses the optional
 * `bufferutil` add-on when it is installed.
 *
 * Limits follow the engine's rules, as on Deno and Bun: a message is judged by its size
 * (`maxMessageBytes`, 1009) however many frames it comes in (`ws`'s own limit of 16,384
 * fragments, which closed with 1008, is off). Until a fragmented message completes, `ws` keeps
 * each non-empty fragment as a view of about 110 bytes: a peer that sends 1-byte fragments can
 * hold about 110 × `maxMessageBytes` of memory (measured: 114 MB for 1,000,000 fragments, the
 * 1 MiB default); lower `maxMessageBytes` where that matters. An upgrade over HTTP/1.0 is
 * refused with 400 (RFC 6455 asks for HTTP/1.1 or later).
 *
 * @example Attach to your own server
 * ```ts ignore
 * import { createServer } from "node:http";
 * import { ok, push, type WebSock } from "@websock/websock";
 * import { websockUpgrade } from "@websock/websock/node";
 *
 * const Echo = {
 *   init: () => ok(null),
 *   handleIn: (data, state) => push(data, state),
 * } satisfies WebSock<null>;
 *
 * const server = createServer((_req, res) => res.end("hello\n"));
 * server.on("upgrade", websockUpgrade(Echo));
 * server.listen(8080);
 * ```
 *
 * @module
 */

import { createServer, type IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { Buffer } from "node:buffer";
import { WebSocketServer, type WsSocket } from "./_ws.ts";
import {
  answerNotAnUpgrade,
  destroyOnError,
  listen,
  upgradeRequest,
  writeRefusal,
} from "./_node_http.ts";
import { Engine, type EngineInit, type OptionsArgs, type Transport } from "../engine/mod.ts";
import {
  type AcceptedUpgrade,
  type AdapterSetup,
  announceConnection,
  checkDeflate,
  engineInit,
  performUpgrade,
  setUp,
  withDrain,
} from "../engine/_kit.ts";
import type { WebSock } from "../websock.ts";

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

type AnyWebSock = WebSock<unknown, unknown, unknown>;

export type {
  NodeServeOptions,
  NodeServer,
  NodeUpgradeHandler,
  NodeUpgradeOptions,
} from "./_node_api.ts";
import type {
  NodeServeOptions,
  NodeServer,
  NodeUpgradeHandler,
  NodeUpgradeOptions,
} from "./_node_api.ts";
import { SERVE_OPTIONS, UPGRADE_OPTIONS, UPGRADE_REFUSED } from "./_node_api.ts";

// A Buffer as a plain Uint8Array over the same bytes (module level: not a closure per socket).
function bytes(data: Buffer): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

// The rare events (ping, pong, error, close) go to listeners that every socket shares (`this`
// is the socket), which find its engine here: not four closures per connection (~220 B).
const engines = new WeakMap<WsSocket, NodeSocket>();

function onPing(this: WsSocket, data: Buffer): void {
  engines.get(this)?.control("ping", bytes(data));
}

function onPong(this: WsSocket, data: Buffer): void {
  engines.get(this)?.control("pong", bytes(data));
}

function onError(this: WsSocket, error: Error): void {
  engines.get(this)?.error(error);
}

function onClose(this: WsSocket, code: number, reason: Buffer): void {
  engines.get(this)?.closed(code, reason.toString());
}

// ws.send()'s options, made once (ws copies them: a send allocates no options object).
const TEXT = Object.freeze({ binary: false });
const BINARY = Object.freeze({ binary: true });

// One `ws` socket's engine, which is its own transport and the listener of the socket's
// events: one object per connection, so that a message reads one object on its way out.
class NodeSocket extends Engine<unknown, unknown, unknown> implements Transport {
  readonly #socket: WsSocket;

  constructor(socket: WsSocket, init: EngineInit<unknown>, handler: AnyWebSock) {
    super(handler, undefined, init);
    this.#socket = socket;
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      this.receive(isBinary ? bytes(data) : data.toString());
    });
    engines.set(socket, this);
    socket.on("ping", onPing);
    socket.on("pong", onPong);
    socket.on("error", onError);
    socket.on("close", onClose);
  }

  sendText(data: string): void {
    // Encode here: ws would write the string as is, and node:net's writev of mixed string and
    // Buffer chunks is slower than its all-Buffers path (measured: +8-20 % on small text).
    this.#socket.send(Buffer.from(data), TEXT);
  }

  sendBinary(data: Uint8Array): void {
    this.#socket.send(data, BINARY);
  }

  sendPing(data: Uint8Array): void {
    this.#socket.ping(data);
  }

  sendPong(data: Uint8Array): void {
    this.#socket.pong(data);
  }

  close(code: number, reason: string): void {
    this.#socket.close(code, reason);
  }

  bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }
}

/**
 * Make a `node:http` `upgrade` listener that serves every WebSocket upgrade with `handler`.
 * Requests are validated first (RFC 6455 §4.2.1, origin, subprotocol); a refusal is an
 * HTTP/1.1 4xx with a plain-text reason.
 *
 * @param handler The behaviour that serves each connection.
 * @param options Upgrade hook, limits, origin policy, subprotocols, compression.
 * @returns The listener, with `shutdown()` to drain its connections.
 * @throws {TypeError|RangeError} When an option is invalid.
 *
 * @example On your own server
 * ```ts
 * import assert from "node:assert/strict";
 * import { once } from "node:events";
 * import { createServer } from "node:http";
 * import { ok, push, type WebSock } from "@websock/websock";
 * import { websockUpgrade } from "@websock/websock/node";
 *
 * const Echo = {
 *   init: () => ok(null),
 *   handleIn: (data, state) => push(data, state),
 * } satisfies WebSock<null>;
 *
 * const upgrade = websockUpgrade(Echo, { perMessageDeflate: true });
 * const server = createServer((_req, res) => res.end("hello\n")).on("upgrade", upgrade);
 * await once(server.listen(0, "127.0.0.1"), "listening");
 * const { port } = server.address() as { port: number };
 * assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "hello\n");
 * // On the way out: drain the connections (1001), then close the server.
 * await upgrade.shutdown();
 * await new Promise((resolve) => server.close(resolve));
 * ```
 */
export function websockUpgrade<S, M, A>(
  handler: WebSock<S, M, A>,
  ...optionsWithUpgradeHookWhenInitTakesAnArgument: OptionsArgs<NodeUpgradeOptions<A, M>, A>
): NodeUpgradeHandler {
  const [options = {}] = optionsWithUpgradeHookWhenInitTakesAnArgument;
  const setup = setUp(handler, options, "websockUpgrade()", UPGRADE_OPTIONS, UPGRADE_REFUSED);
  return upgradeListener(setup, options);
}

function upgradeListener(
  setup: AdapterSetup,
  options: NodeUpgradeOptions<unknown, unknown>,
): NodeUpgradeHandler {
  const engineOptions = setup.options.engine;
  const perMessageDeflate = checkDeflate(options.perMessageDeflate, true);
  const chosen = new WeakMap<IncomingMessage, string>();
  // Headers the upgrade hook added for the 101, written by ws's "headers" event.
  const added = new WeakMap<IncomingMessage, readonly [string, string][]>();
  const server = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: engineOptions.maxMessageBytes,
    // A message is judged by its size alone (maxMessageBytes, 1009), as on Deno and Bun: ws's
    // default of 16,384 fragments closed a message of small frames with 1008. Empty fragments
    // are not stored, so a message still holds at most maxMessageBytes fragments (ws keeps
    // each as a view of about 110 bytes until the message completes).
    maxFragments: 0,
    perMessageDeflate,
    handleProtocols: (_offered, request) => chosen.get(request) || false,
    // A peer that does not answer the close frame in 4 s is dropped (ws waits 30 s), as Bun
    // drops it: a dead peer does not hold its socket long after the engine closed it.
    closeTimeout: 4000,
  });
  server.on("headers", (lines, request) => {
    for (const [name, value] of added.get(request) ?? []) lines.push(`${name}: ${value}`);
  });

  function accept(request: IncomingMessage, socket: Duplex, head: Buffer, up: AcceptedUpgrade) {
    chosen.set(request, up.info.protocol);
    if (up.headers.length > 0) added.set(request, up.headers);
    server.handleUpgrade(request, socket, head, (ws) => {
      const socket = new NodeSocket(ws, engineInit(up, setup), setup.handler);
      announceConnection(setup.options, socket.connection);
      socket.open();
    });
  }

  function listener(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", destroyOnError);
    const outcome = performUpgrade(
      setup.options,
      upgradeRequest(request),
      (upgrade) => accept(request, socket, head, upgrade),
      (response) => void writeRefusal(socket, response).catch(() => socket.destroy()),
    );
    if (outcome instanceof Promise) outcome.catch(() => socket.destroy());
  }

  return withDrain(listener, setup.registry);
}

/**
 * Start a `node:http` server that serves every WebSocket upgrade with `handler` and answers
 * other requests with 426 (or 400 for a broken upgrade).
 *
 * @param handler The behaviour that serves each connection.
 * @param options Where to listen, plus the options of {@linkcode websockUpgrade}.
 * @returns The server, a promise of its address, and `shutdown()`.
 * @throws {TypeError|RangeError} When an option is invalid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ok, push, type WebSock } from "@websock/websock";
 * import { serve } from "@websock/websock/node";
 *
 * const Echo = {
 *   init: () => ok(null),
 *   handleIn: (data, state) => push(data, state),
 * } satisfies WebSock<null>;
 *
 * const { listening, shutdown } = serve(Echo, { hostname: "127.0.0.1", port: 0 });
 * const { hostname, port } = await listening;
 * assert.equal(hostname, "127.0.0.1");
 * assert.ok(port > 0); // 0 picks a free port
 * await shutdown(); // drain the connections (1001), then close the server
 * ```
 */
export function serve<S, M, A>(
  handler: WebSock<S, M, A>,
  ...optionsWithUpgradeHookWhenInitTakesAnArgument: OptionsArgs<NodeServeOptions<A, M>, A>
): NodeServer {
  const [options = {}] = optionsWithUpgradeHookWhenInitTakesAnArgument;
  const upgrade = upgradeListener(setUp(handler, options, "serve()", SERVE_OPTIONS), options);
  const server = createServer(answerNotAnUpgrade).on("upgrade", upgrade);
  const listening = listen(server, options.port ?? 8080, options.hostname ?? "127.0.0.1");
  return {
    server,
    upgrade,
    listening,
    async shutdown(shutdownOptions) {
      await upgrade.shutdown(shutdownOptions);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
