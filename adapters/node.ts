/**
 * The Node adapter: serve a {@linkcode WebSock} handler on a `node:http` server's `upgrade`
 * event with [`ws`](https://github.com/websockets/ws), under Node or Deno's Node
 * compatibility. Unlike Deno's own WebSocket, it lets `handleControl` see pings and pongs,
 * pushes ping and pong frames, and offers permessage-deflate. `ws` uses the optional
 * `bufferutil` add-on when it is installed.
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

import { createServer, type IncomingMessage, type Server, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { Buffer } from "node:buffer";
import { WebSocketServer, type WsSocket } from "./_ws.ts";
import {
  type AdapterOptions,
  checkHandler,
  checkUpgrade,
  Engine,
  type EngineInit,
  type HeaderReader,
  type OptionsArgs,
  prepareUpgrade,
  Registry,
  resolveAdapterOptions,
  type ShutdownOptions,
  type Transport,
  type UpgradeRequest,
  whenReady,
} from "../engine/mod.ts";
import { announceConnection, NOT_AN_UPGRADE, showValue } from "../engine/_kit.ts";
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

type AnyWebSock = WebSock<unknown, unknown, unknown>;

/** Options of {@linkcode websockUpgrade}: the shared adapter options plus compression. */
export interface NodeUpgradeOptions<A, M = unknown> extends AdapterOptions<A, M> {
  /**
   * Negotiate permessage-deflate (`true`, or `ws`'s `perMessageDeflate` options).
   * @default {false}
   */
  perMessageDeflate?: boolean | Record<string, unknown>;
}

/** Options of {@linkcode serve}: where to listen, plus those of {@linkcode websockUpgrade}. */
export interface NodeServeOptions<A, M = unknown> extends NodeUpgradeOptions<A, M> {
  /**
   * The port to listen on (`0`: any free one).
   * @default {8080}
   */
  port?: number;
  /**
   * The address to listen on.
   * @default {"127.0.0.1"}
   */
  hostname?: string;
}

/** A `node:http` `upgrade` listener that serves WebSocket connections, and drains them. */
export interface NodeUpgradeHandler {
  /** Answer one upgrade request: upgrade it or refuse it with a 4xx. */
  (request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Close every connection (1001, or 1012 with `restart`); resolves once all are over. */
  shutdown(options?: ShutdownOptions): Promise<void>;
  /** The handler's live connections. */
  readonly registry: Registry;
}

/** What {@linkcode serve} returns: the server, its address once listening, and shutdown. */
export interface NodeServer {
  /** The `node:http` server. */
  readonly server: Server;
  /** The `upgrade` listener. */
  readonly upgrade: NodeUpgradeHandler;
  /** Resolves with the bound address once the server listens. */
  readonly listening: Promise<{ hostname: string; port: number }>;
  /** Drain the connections (1001), then close the server. */
  shutdown(options?: ShutdownOptions): Promise<void>;
}

function headerReader(request: IncomingMessage): HeaderReader {
  return {
    get(name) {
      const value = request.headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
    },
  };
}

function toHeaders(request: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}

// The request as prepareUpgrade() reads it.
function upgradeRequest(request: IncomingMessage): UpgradeRequest {
  const headers = headerReader(request);
  const url = `http://${headers.get("host")}${request.url ?? "/"}`;
  const { remoteAddress, remotePort } = request.socket;
  return {
    method: request.method ?? "",
    url,
    headers,
    httpVersion: request.httpVersion,
    remoteAddr: remoteAddress === undefined
      ? null
      : { hostname: remoteAddress, port: remotePort ?? 0 },
    allHeaders: () => toHeaders(request),
    request: () => new Request(url, { headers: toHeaders(request) }),
  };
}

// Write a whole HTTP/1.1 response on the raw socket and close it.
function writeResponse(
  socket: Duplex,
  status: number,
  headers: Record<string, string>,
  body: string,
): void {
  if (!socket.writable) return void socket.destroy();
  const bytes = new TextEncoder().encode(body);
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  lines.push(`content-length: ${bytes.byteLength}`, "connection: close", "", "");
  socket.end(lines.join("\r\n") + new TextDecoder().decode(bytes));
}

// A Buffer as a plain Uint8Array over the same bytes (module level: not a closure per socket).
function bytes(data: Buffer): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

// The raw socket's error listener until ws takes over (it stays for the connection's life).
// Not a closure: one made in the upgrade listener would keep that call's context, and so the
// request and its head buffer, alive as long as the connection (about 1.5 KiB each).
function destroyOnError(this: Duplex): void {
  this.destroy();
}

async function writeRefusal(socket: Duplex, response: Response): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => headers[name] = value);
  delete headers["content-length"];
  writeResponse(socket, response.status, headers, await response.text());
}

// One `ws` socket: the engine's transport, and the listener of its events.
class NodeSocket implements Transport {
  readonly #socket: WsSocket;
  readonly engine: Engine<unknown, unknown, unknown>;

  constructor(
    socket: WsSocket,
    init: EngineInit<unknown>,
    handler: AnyWebSock,
  ) {
    this.#socket = socket;
    const engine = this.engine = new Engine(handler, this, init);
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      engine.receive(isBinary ? bytes(data) : data.toString());
    });
    socket.on("ping", (data: Buffer) => engine.control("ping", bytes(data)));
    socket.on("pong", (data: Buffer) => engine.control("pong", bytes(data)));
    socket.on("error", (error: Error) => engine.error(error));
    socket.on("close", (code: number, reason: Buffer) => engine.closed(code, reason.toString()));
  }

  sendText(data: string): void {
    // Encode here: ws would write the string as is, and node:net's writev of mixed string and
    // Buffer chunks is slower than its all-Buffers path (measured: +8-20 % on small text).
    this.#socket.send(Buffer.from(data), { binary: false });
  }

  sendBinary(data: Uint8Array): void {
    this.#socket.send(data, { binary: true });
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
  return upgradeListener(handler as AnyWebSock, options, "websockUpgrade()", UPGRADE_OPTIONS, {
    port: "serve() listens, websockUpgrade() serves on your own server",
    hostname: "serve() listens, websockUpgrade() serves on your own server",
  });
}

const UPGRADE_OPTIONS = ["perMessageDeflate"];
const SERVE_OPTIONS = [...UPGRADE_OPTIONS, "port", "hostname"];

function upgradeListener(
  handler: AnyWebSock,
  options: NodeUpgradeOptions<unknown, unknown>,
  where: string,
  own: readonly string[],
  refused?: Readonly<Record<string, string>>,
): NodeUpgradeHandler {
  checkHandler(handler, where);
  const adapter = resolveAdapterOptions(options, own, refused);
  const engineOptions = adapter.engine;
  const perMessageDeflate = options.perMessageDeflate ?? false;
  if (
    typeof perMessageDeflate !== "boolean" &&
    (typeof perMessageDeflate !== "object" || perMessageDeflate === null ||
      Array.isArray(perMessageDeflate))
  ) {
    throw new TypeError(
      `Invalid option perMessageDeflate: ${
        showValue(perMessageDeflate)
      } is not a boolean or ws's options`,
    );
  }
  const registry = new Registry();
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
  const generic = handler;

  function open(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    info: ConnectionInfo,
    arg: unknown,
    extraHeaders: readonly [string, string][],
  ): void {
    chosen.set(request, info.protocol);
    if (extraHeaders.length > 0) added.set(request, extraHeaders);
    server.handleUpgrade(request, socket, head, (ws) => {
      const init = { arg, info, options: engineOptions, registry };
      const { engine } = new NodeSocket(ws, init, generic);
      announceConnection(adapter, engine.connection);
      engine.open();
    });
  }

  function listener(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", destroyOnError);
    const prepared = prepareUpgrade(adapter, upgradeRequest(request));
    const outcome = whenReady(prepared, (p) => {
      if (p.accept) return open(request, socket, head, p.info, p.arg, p.headers);
      writeRefusal(socket, p.response).catch(() => socket.destroy());
    });
    if (outcome instanceof Promise) outcome.catch(() => socket.destroy());
  }

  return Object.assign(listener, {
    shutdown: (shutdownOptions?: ShutdownOptions) => registry.shutdown(shutdownOptions),
    registry,
  });
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
 * import { ok, push, type WebSock } from "@websock/websock";
 * import { serve } from "@websock/websock/node";
 *
 * const Echo = {
 *   init: () => ok(null),
 *   handleIn: (data, state) => push(data, state),
 * } satisfies WebSock<null>;
 *
 * const { listening, shutdown } = serve(Echo, { hostname: "127.0.0.1", port: 0 });
 * console.log(await listening); // { hostname: "127.0.0.1", port: 40123 }: 0 picks a free port
 * await shutdown(); // drain the connections (1001), then close the server
 * ```
 */
export function serve<S, M, A>(
  handler: WebSock<S, M, A>,
  ...optionsWithUpgradeHookWhenInitTakesAnArgument: OptionsArgs<NodeServeOptions<A, M>, A>
): NodeServer {
  const [options = {}] = optionsWithUpgradeHookWhenInitTakesAnArgument;
  const upgrade = upgradeListener(handler as AnyWebSock, options, "serve()", SERVE_OPTIONS);
  const { port = 8080, hostname = "127.0.0.1" } = options;
  const server = createServer((request, response) => {
    const rejection = checkUpgrade(request.method ?? "", headerReader(request)) ?? NOT_AN_UPGRADE;
    const body = rejection.reason + "\n";
    response.writeHead(rejection.status, {
      "content-type": "text/plain; charset=utf-8",
      ...rejection.headers,
    }).end(body);
  });
  server.on("upgrade", upgrade);
  const listening = new Promise<{ hostname: string; port: number }>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => {
      const address = server.address();
      if (address === null || typeof address === "string") return reject(new Error("No address"));
      resolve({ hostname: address.address, port: address.port });
    });
  });
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
