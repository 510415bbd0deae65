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

import { Engine, type EngineInit, type OptionsArgs, type Transport } from "../engine/mod.ts";
import {
  type AcceptedUpgrade,
  announceConnection,
  checkCallback,
  type ConnectionSetup,
  engineInit,
  refuseUpgrade,
  requestSetUp,
  setUp,
  upgradeHeaders,
  upgradeWebRequest,
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

export type {
  DenoOptions,
  UpgradeArgs,
  UpgradeOptions,
  WebSockHandler,
  WebSockHandlerOptions,
} from "./_deno_api.ts";
import type { UpgradeArgs, WebSockHandler, WebSockHandlerOptions } from "./_deno_api.ts";
import { REFUSED } from "./_deno_api.ts";

type AnyWebSock = WebSock<unknown, unknown, unknown>;

// The peer's address, from Deno.serve's handler info.
function remoteAddr(_request: Request, serveInfo?: Deno.ServeHandlerInfo): RemoteAddr | null {
  const { hostname, port = 0 } = (serveInfo?.remoteAddr ?? {}) as Partial<Deno.NetAddr>;
  return hostname === undefined ? null : { hostname, port };
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
// own 1001 to every socket whose close op had not started (a restart's 1012 was lost). Every
// registry that holds a Deno socket awaits it (`afterDrain`), whether websockHandler()'s own
// or one given to upgrade().
async function closeFramesOut(): Promise<void> {
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
}

// One WebSocket's engine, which is its own transport and the listener of the socket's events:
// one object per connection, so that a message reads one object on its way to the socket.
class DenoSocket extends Engine<unknown, unknown, unknown>
  implements Transport, EventListenerObject {
  readonly #socket: WebSocket;
  // Deno pings and closes dead peers itself (idleTimeout = timeout); JavaScript never sees
  // the pongs, so the engine must not close a silent peer.
  get runtimeKeepAlive(): boolean {
    return true;
  }
  // A close asked for before the socket opened (Deno ignores close() while CONNECTING).
  #closeOnOpen: { code: number; reason: string } | undefined;
  // The immediate of a close waiting for its turn (see closeSocket).
  #closeTimer: ReturnType<typeof setImmediate> | undefined;

  constructor(socket: WebSocket, handler: AnyWebSock, init: EngineInit<unknown>) {
    super(handler, undefined, init);
    this.#socket = socket;
    socket.addEventListener("open", this, ONCE); // dropped once fired: less per idle socket
    socket.addEventListener("message", this);
    socket.addEventListener("error", this);
    socket.addEventListener("close", this);
  }

  handleEvent(event: Event): void {
    switch (event.type) {
      case "message": {
        const data = (event as MessageEvent).data;
        this.receive(typeof data === "string" ? data : new Uint8Array(data));
        break;
      }
      case "open":
        if (this.#closeOnOpen) {
          this.#closeLater(this.#closeOnOpen.code, this.#closeOnOpen.reason);
        } else this.open();
        break;
      case "error": {
        const message = (event as ErrorEvent).message ?? "WebSocket error";
        // A lost connection is the engine's to name (the close that follows is 1006).
        if (LOST.test(message)) break;
        this.error(new Error(message), message.startsWith("No response from ping frame"));
        break;
      }
      case "close": {
        clearImmediate(this.#closeTimer);
        const { code, reason } = event as CloseEvent;
        this.closed(code === 0 ? 1006 : code, reason); // Deno says 0 for a lost connection
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
  upgrade: AcceptedUpgrade,
  setup: ConnectionSetup,
): Response {
  let upgraded: { socket: WebSocket; response: Response };
  try {
    // Deno runs the keep-alive (ping at half of timeout, close at the end), in seconds.
    const idleTimeout = setup.options.engine.timeout / 1000;
    upgraded = Deno.upgradeWebSocket(request, { idleTimeout });
  } catch (error) {
    return refuseUpgrade(setup.options, (error as Error).message);
  }
  // Deno matches its `protocol` option against the client's list split on ", " only, so
  // the adapter negotiates itself and sets the header on the (mutable) 101 response.
  upgradeHeaders(upgraded.response.headers, upgrade);
  const socket = new DenoSocket(upgraded.socket, setup.handler, engineInit(upgrade, setup));
  setup.registry?.afterDrain(closeFramesOut); // kept once per registry
  announceConnection(setup.options, socket.connection);
  return upgraded.response;
}

const setUpRequest = requestSetUp("upgrade()", "websockHandler()", REFUSED);

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
  const setup = setUpRequest(handler, options);
  // Without a hook (upgrade() takes init's argument itself), preparing is synchronous.
  return upgradeWebRequest(
    setup.options,
    request,
    remoteAddr(request, options.info),
    (prepared) => accept(request, { ...prepared, arg, headers: setup.extraHeaders() }, setup),
  ) as Response;
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
  const setup = setUp(handler, options, "websockHandler()", ["fallback"], REFUSED);
  const serve = webUpgrades<Deno.ServeHandlerInfo | undefined, Response>({
    options: setup.options,
    fallback: checkCallback("fallback", options.fallback),
    remoteAddr,
    accept: (request, _serveInfo, upgrade) => accept(request, upgrade, setup),
  });
  return withDrain(serve, setup.registry);
}
