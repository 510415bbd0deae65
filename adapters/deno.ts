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
  checkHandler,
  Engine,
  type EngineInit,
  extraResponseHeaders,
  isWebSocketUpgrade,
  type OptionsArgs,
  type PreparedUpgrade,
  prepareUpgrade,
  type Registry,
  rejectionResponse,
  reportRefusal,
  resolveAdapterOptions,
  type ResolvedAdapterOptions,
  type ShutdownOptions,
  type Transport,
  type UpgradeRequest,
  upgradeRequestOf,
  whenReady,
} from "../engine/mod.ts";
import { announceConnection, checkCallback, NOT_AN_UPGRADE, setUp } from "../engine/_kit.ts";
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

export type {
  DenoOptions,
  UpgradeArgs,
  UpgradeOptions,
  WebSockHandler,
  WebSockHandlerOptions,
} from "./_deno_api.ts";
import type {
  DenoOptions,
  UpgradeArgs,
  WebSockHandler,
  WebSockHandlerOptions,
} from "./_deno_api.ts";

type AnyWebSock = WebSock<unknown, unknown, unknown>;

// Options the Deno adapter cannot honour, refused with the reason.
const REFUSED: Readonly<Record<string, string>> = {
  perMessageDeflate:
    "Deno's WebSocket server cannot compress (permessage-deflate is on Node and Bun)",
  denoIdleTimeout: "it was removed, Deno's keep-alive follows timeout (ms)",
};

// The request as prepareUpgrade() reads it.
function upgradeRequest(request: Request, serveInfo?: Deno.ServeHandlerInfo): UpgradeRequest {
  const { hostname, port = 0 } = (serveInfo?.remoteAddr ?? {}) as Partial<Deno.NetAddr>;
  return upgradeRequestOf(request, hostname === undefined ? null : { hostname, port });
}

const ONCE = { once: true };
// Deno's error events for a connection that went away without a close frame.
const LOST = /^Unexpected EOF|Connection reset|Broken pipe/i;

// Close from an immediate (setImmediate), never from inside Deno's read loop. Deno 2.9 writes
// the close frame in a lazy op (first polled when the event loop next yields), and its read
// loop drops the socket as soon as it reads a data frame after `close()`: under a flood the
// next frame is already there, so the close frame never went out and the unread input reset
// TCP (the peer saw no 1011/1013). Immediates run in the event loop's check phase, after the
// completed reads were delivered and while the socket's next read is still pending, so the
// close op is polled before any later frame can reach the read loop. (A 0 ms timer is not
// enough: timers run before the completed reads of the same turn are delivered; measured 93 %
// against 100 % of 120 flooded closes.) Cleared if the socket closes first (the peer's close,
// `server.shutdown()`), so that nothing is left pending.
function closeSocket(socket: WebSocket, code: number, reason: string): void {
  socket.close(code, reason);
}

// After a drain: the check phase in which the deferred closes run, then the next one, by
// which their close ops were polled. `server.shutdown()` right after would otherwise send its
// own 1001 to every socket whose close op had not started (a restart's 1012 was lost).
async function closeFramesOut(): Promise<void> {
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
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
  // The immediate of a close waiting for its turn (see closeSocket).
  #closeTimer: ReturnType<typeof setImmediate> | undefined;

  constructor(socket: WebSocket, handler: AnyWebSock, init: EngineInit<unknown>) {
    this.#socket = socket;
    this.engine = new Engine(handler, this, init);
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
        // A lost connection is the engine's to name (the close that follows is 1006).
        if (LOST.test(message)) break;
        this.engine.error(new Error(message), message.startsWith("No response from ping frame"));
        break;
      }
      case "close": {
        clearImmediate(this.#closeTimer);
        const { code, reason } = event as CloseEvent;
        this.engine.closed(code === 0 ? 1006 : code, reason); // Deno says 0 for a lost connection
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
    this.#closeTimer ??= setImmediate(closeSocket, this.#socket, code, reason);
  }

  bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }
}

// Upgrade for real: the 101 response, with the connection running behind it.
function accept(
  request: Request,
  handler: AnyWebSock,
  arg: unknown,
  info: ConnectionInfo,
  resolved: ResolvedAdapterOptions<unknown, unknown>,
  registry: Registry | undefined,
  extraHeaders: readonly [string, string][],
): Response {
  let upgraded: { socket: WebSocket; response: Response };
  try {
    // Deno runs the keep-alive (ping at half of timeout, close at the end), in seconds.
    upgraded = Deno.upgradeWebSocket(request, { idleTimeout: resolved.engine.timeout / 1000 });
  } catch (error) {
    const reason = (error as Error).message;
    reportRefusal(resolved, 400, reason);
    return rejectionResponse({ status: 400, reason });
  }
  // Deno matches its `protocol` option against the client's list split on ", " only, so
  // the adapter negotiates itself and sets the header on the (mutable) 101 response.
  const headers = upgraded.response.headers;
  if (info.protocol !== "") headers.set("sec-websocket-protocol", info.protocol);
  for (const [name, value] of extraHeaders) headers.append(name, value);
  const init = { arg, info, options: resolved.engine, registry };
  const { engine } = new DenoSocket(upgraded.socket, handler, init);
  announceConnection(resolved, engine.connection);
  return upgraded.response;
}

// upgrade()'s own options.
const UPGRADE_OPTIONS = ["registry", "info", "headers"];
const UPGRADE_REFUSED = {
  ...REFUSED,
  upgrade: "upgrade() takes init's argument itself (the hook is websockHandler()'s)",
};

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
 * import assert from "node:assert/strict";
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
 * const elsewhere = await fetch(`http://127.0.0.1:${server.addr.port}/elsewhere`);
 * assert.equal(elsewhere.status, 404);
 * await elsewhere.body?.cancel();
 * // On the way out: drain the connections, then stop the server.
 * await registry.shutdown();
 * await server.shutdown();
 * ```
 */
export function upgrade<S, M, A>(
  request: Request,
  handler: WebSock<S, M, A>,
  ...initArgumentThenOptions: UpgradeArgs<A, M>
): Response {
  const [arg, options = {}] = initArgumentThenOptions;
  checkHandler(handler, "upgrade()");
  const resolved = resolveAdapterOptions(
    options as DenoOptions<unknown, unknown>,
    UPGRADE_OPTIONS,
    UPGRADE_REFUSED,
  );
  // Without a hook (upgrade() takes init's argument itself), preparing is synchronous.
  const prepared = prepareUpgrade(
    resolved,
    upgradeRequest(request, options.info),
  ) as PreparedUpgrade<unknown>;
  if (!prepared.accept) return prepared.response;
  const generic = handler as WebSock<unknown, unknown, unknown>;
  const headers = options.headers === undefined
    ? []
    : extraResponseHeaders(new Headers(options.headers));
  return accept(request, generic, arg, prepared.info, resolved, options.registry, headers);
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
 * import assert from "node:assert/strict";
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
 * const plain = await fetch(`http://127.0.0.1:${server.addr.port}/`); // not an upgrade
 * assert.equal(plain.status, 426);
 * await plain.body?.cancel();
 * // On the way out: drain the connections (1001), then stop the server.
 * await handler.shutdown();
 * await server.shutdown();
 * ```
 */
export function websockHandler<S, M, A>(
  handler: WebSock<S, M, A>,
  ...optionsWithUpgradeHookWhenInitTakesAnArgument: OptionsArgs<WebSockHandlerOptions<A, M>, A>
): WebSockHandler {
  const [options = {}] = optionsWithUpgradeHookWhenInitTakesAnArgument;
  const { options: resolved, registry, handler: generic } = setUp(
    handler,
    options,
    "websockHandler()",
    ["fallback"],
    REFUSED,
  );
  const fallback = checkCallback("fallback", options.fallback);

  function serve(
    request: Request,
    serveInfo?: Deno.ServeHandlerInfo,
  ): Response | Promise<Response> {
    if (!isWebSocketUpgrade(request.headers)) {
      return fallback ? fallback(request, serveInfo!) : rejectionResponse(NOT_AN_UPGRADE);
    }
    return whenReady(
      prepareUpgrade(resolved, upgradeRequest(request, serveInfo)),
      (p) =>
        p.accept
          ? accept(request, generic, p.arg, p.info, resolved, registry, p.headers)
          : p.response,
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
