// channels(): the Phoenix channel protocol as a WebSock handler. One socket multiplexes
// joined channels; each channel is an actor of its own (_process.ts).

import {
  type Connection,
  type ConnectionInfo,
  ok,
  type Result,
  stop,
  type TerminateReason,
  type WebSock,
} from "../websock.ts";
import { checkClock, type Clock, systemClock } from "../engine/options.ts";
import type { UpgradeResponse } from "../engine/adapter_options.ts";
import { type PublishResult, PubSub } from "../pubsub/pubsub.ts";
import { HistoryPubSub } from "../pubsub/history.ts";
import type { Channel } from "./channel.ts";
import { decodeMessage, type Message } from "./serializer.ts";
import { type Broadcast, Hub } from "./_hub.ts";
import type { ChannelProcess } from "./_process.ts";
import { type App, DISCONNECT, frames, HEARTBEAT, Sock } from "./_socket.ts";
import { Routes } from "./_routes.ts";
import { Heartbeats } from "./_heartbeat.ts";
import { isThenable } from "../engine/is_thenable.ts";
import { checkInteger } from "../engine/check_integer.ts";
import { checkOptionNames } from "../engine/check_options.ts";
import { checkCallback } from "../engine/check_callback.ts";
import { showValue } from "../engine/show_value.ts";
import { classMistake } from "../engine/class_mistake.ts";

import type { ChannelErrorContext, ConnectArg, SocketMail, SocketState } from "./socket_state.ts";

export type { Broadcast } from "./_hub.ts";
export type { ChannelErrorSource } from "./_process.ts";

/** What the `connect` hook is told besides the params. */
export interface ConnectContext {
  /**
   * The client's auth token (`new Socket(url, { authToken })`, sent in
   * `Sec-WebSocket-Protocol` as `base64url.bearer.phx.<token>`), decoded; `null` without one.
   */
  readonly token: string | null;
  /** The upgrade request. */
  readonly request: Request;
  /** The connection's info, when the adapter gave it. */
  readonly info: ConnectionInfo | undefined;
  /** Headers to add to the 101 response (a cookie), when the adapter gave them. */
  readonly response: UpgradeResponse | undefined;
}

/** Options of {@linkcode channels}. */
export interface ChannelsOptions<A> {
  /**
   * Accept or refuse a socket, before the upgrade: return its assigns (any value but a
   * `Response`), or a `Response` (a 4xx) to refuse. May be async; a throw is a 500. Runs in
   * the adapter's `upgrade` hook: pass the app's {@linkcode Channels.adapterOptions}.
   * @default {None: every socket is accepted, assigns are undefined}
   */
  connect?: (
    params: Readonly<Record<string, string>>,
    context: ConnectContext,
  ) => A | Response | Promise<A | Response>;
  /**
   * Where broadcasts go: a {@linkcode PubSub} of {@linkcode Broadcast}s, with any backend
   * (in-process, BroadcastChannel, Redis), through its fastlane; or a
   * {@linkcode HistoryPubSub}, for resumable channels: each broadcast's frame then carries
   * its position as its ref (`"<epoch>:<offset>"`, the second argument of the client's
   * `channel.on` callback), and a join whose payload has `since` (that ref, or a
   * `{ epoch, offset }` position) first gets what it missed, in order, then the new
   * broadcasts; when the history no longer reaches back that far, it first gets one
   * `history_gap` event `{ after, position, missed }` (reload the state).
   * @default {A new in-process PubSub}
   */
  pubsub?: PubSub<Broadcast> | HistoryPubSub<Broadcast>;
  /**
   * Close a socket (1001 "Heartbeat timeout") that sent no heartbeat for this many
   * milliseconds (the `phoenix` client sends one every 30 s). `0` turns it off.
   * @default {60000}
   */
  heartbeatTimeout?: number;
  /**
   * How many channels one socket may have joined (those still ending included); one more
   * join gets the error reply `{ reason: "too many channels" }`.
   * @default {100}
   */
  maxChannels?: number;
  /**
   * The socket's id, from its assigns and params (Phoenix's `id/1`): a socket with an id can
   * be closed from anywhere, on every node, with {@linkcode Channels.disconnect}. `null` or
   * `undefined`: no id.
   * @default {None: sockets have no id}
   */
  id?: (assigns: A, params: Readonly<Record<string, string>>) => string | null | undefined;
  /**
   * How many events may wait across a socket's channels (behind their async callbacks);
   * one more closes the socket with 1013.
   * @default {1024}
   */
  maxQueuedEvents?: number;
  /**
   * Told of every callback that throws or returns something invalid (the channel ends with
   * `phx_error`; nothing reaches the client) and every failed `terminate`.
   * @default {Logs with console.error}
   */
  onError?: (error: unknown, context: ChannelErrorContext) => void;
  /**
   * Time and timers, for the heartbeat timeout.
   * @default {The global Date.now, setTimeout and clearTimeout}
   */
  clock?: Clock;
}

/** The upgrade hook of an app: the socket's {@linkcode ConnectArg}, or a refusal. */
export type ConnectHook<A> = (
  request: Request,
  info?: ConnectionInfo,
  response?: UpgradeResponse,
) => ConnectArg<A> | Response | Promise<ConnectArg<A> | Response>;

/**
 * A channels app: a WebSock handler (serve it with any adapter, under `upgrade()`, or in
 * `TestConnection`), its upgrade hook, and its broadcasts.
 *
 * @typeParam A The socket assigns the `connect` hook returns.
 */
export interface Channels<A = undefined>
  extends WebSock<SocketState<A>, SocketMail, ConnectArg<A> | undefined> {
  /**
   * The adapter options the app needs: its `upgrade` hook (the `connect` hook, the params,
   * the token) and the `phoenix` subprotocol. Spread them into the adapter's options.
   */
  readonly adapterOptions: {
    readonly upgrade: ConnectHook<A>;
    readonly protocols: readonly string[];
  };
  /**
   * The upgrade hook alone: parse the params and the token, run `connect`. For your own
   * routing: `const arg = await app.upgrade(request)`, then `upgrade(request, app, arg)`.
   */
  readonly upgrade: ConnectHook<A>;
  /** The pub/sub the broadcasts go through. */
  readonly pubsub: PubSub<Broadcast> | HistoryPubSub<Broadcast>;
  /**
   * Broadcast an event to every channel joined to a topic, on every node of the pub/sub.
   * The frame is encoded once for all subscribers of this node.
   *
   * @param topic The topic.
   * @param event The event name.
   * @param payload A JSON value (a `Uint8Array` only in-process).
   * @returns How many subscribers on this node took it (on a HistoryPubSub, 0 and 0: it
   *   delivers once the message has its position).
   */
  broadcast(topic: string, event: string, payload: unknown): PublishResult;
  /**
   * Close every socket whose id (the `id` option) is `id`, on every node of the pub/sub, with
   * 1000 `Disconnected`. The `phoenix` client (1.8) reconnects after any close it did not ask
   * for: to log a user out, make `connect` refuse them first, then disconnect.
   *
   * @param id The socket id.
   * @returns How many sockets on this node were told (0 and 0 on a HistoryPubSub).
   */
  disconnect(id: string): PublishResult;
}

/**
 * A channel definition of any state and mail, as routes hold them.
 *
 * @typeParam A The socket's assigns.
 */
// deno-lint-ignore no-explicit-any
export type AnyChannel<A> = Channel<any, any, A>;

const VERSIONS = new Set(["2.0.0"]);
const TOKEN_PREFIX = "base64url.bearer.phx.";
const genuine = new WeakSet<object>();

const OPTION_NAMES = [
  "connect",
  "pubsub",
  "heartbeatTimeout",
  "maxChannels",
  "id",
  "maxQueuedEvents",
  "onError",
  "clock",
];

function paramsOf(url: string): Record<string, string> {
  const params: Record<string, string> = {};
  const search = url.indexOf("?");
  if (search === -1) return params;
  for (const [key, value] of new URLSearchParams(url.slice(search + 1))) {
    if (key !== "vsn") params[key] = value;
  }
  return params;
}

function vsnOf(url: string): string {
  const search = url.indexOf("?");
  return (search === -1 ? null : new URLSearchParams(url.slice(search + 1)).get("vsn")) ?? "2.0.0";
}

/** The token the `phoenix` client puts in `Sec-WebSocket-Protocol`, decoded. */
function tokenOf(header: string | null): string | null {
  if (header === null) return null;
  for (const part of header.split(",")) {
    const protocol = part.trim();
    if (!protocol.startsWith(TOKEN_PREFIX)) continue;
    const encoded = protocol.slice(TOKEN_PREFIX.length).replace(/-/g, "+").replace(/_/g, "/");
    try {
      return atob(encoded + "=".repeat((4 - encoded.length % 4) % 4));
    } catch {
      return null;
    }
  }
  return null;
}

function offersPhoenix(header: string | null): boolean {
  return header !== null && header.split(",").some((p) => p.trim() === "phoenix");
}

/**
 * Serve the Phoenix channel protocol (`vsn=2.0.0`, the one the `phoenix` npm client speaks)
 * as a WebSock handler: routes map topic patterns to {@linkcode Channel} definitions.
 *
 * @param routes Topic patterns (`"room:*"` for a prefix, `"user:42"` for one topic) and the
 *   channel that serves them; the first pattern that matches wins.
 * @param options The `connect` hook, the pub/sub, the heartbeat timeout, the limits.
 * @returns The app: a WebSock handler with its adapter options and `broadcast`.
 * @throws {TypeError} When a route or an option is invalid.
 * @throws {RangeError} When a limit is out of range.
 *
 * @example A room, served on Deno
 * ```ts
 * import { channels, joined, reply } from "@websock/websock/channels";
 * import { websockHandler } from "@websock/websock/deno";
 *
 * const app = channels({
 *   "room:*": {
 *     join: (topic) => joined({ topic }),
 *     handleIn: (event, payload, state) => reply("ok", { event, payload }, state),
 *   },
 * });
 * const handler = websockHandler(app, app.adapterOptions); // the upgrade hook, "phoenix"
 * // Deno.serve({ port: 4000 }, handler);
 * // Client: new Socket("ws://localhost:4000/socket").connect()
 * ```
 */
export function channels<A = undefined>(
  routes: Readonly<Record<string, AnyChannel<A>>>,
  options: ChannelsOptions<A> = {},
): Channels<A> {
  checkOptionNames(options, OPTION_NAMES);
  const connect = checkCallback("connect", options.connect);
  const app = appOf(routes as Readonly<Record<string, unknown>>, options);
  const upgrade = upgradeHook(connect);
  const hub = app.hub, connected = connect !== undefined;
  return {
    init: (arg, connection) =>
      openSocket(app, connected, arg, connection) as Result<SocketState<A>>,
    handleIn: socketIn,
    handleInfo: socketMail,
    terminate: socketClosed,
    adapterOptions: { upgrade, protocols: ["phoenix"] },
    upgrade,
    pubsub: hub.pubsub,
    broadcast: (topic, event, payload) => hub.broadcast(topic, event, payload, undefined),
    disconnect: (id) => hub.broadcast(id, "disconnect", {}, undefined),
  };
}

// The options checked, and what every socket of the app shares: its routes, its pub/sub, its
// heartbeat sweeper, its limits, its hooks.
function appOf<A>(routes: Readonly<Record<string, unknown>>, options: ChannelsOptions<A>): App {
  const onError = checkCallback("onError", options.onError);
  const id = checkCallback("id", options.id);
  const pubsub = options.pubsub ?? new PubSub<Broadcast>();
  const mistake = classMistake(pubsub);
  if (mistake !== undefined) throw new TypeError(`Invalid option pubsub: ${mistake}`);
  if (!(pubsub instanceof PubSub) && !(pubsub instanceof HistoryPubSub)) {
    throw new TypeError(
      `Invalid option pubsub: ${showValue(pubsub)} is not a PubSub or a HistoryPubSub`,
    );
  }
  const clock = options.clock === undefined ? systemClock : checkClock(options.clock);
  return {
    routes: new Routes(routes),
    hub: new Hub(pubsub),
    heartbeats: new Heartbeats(
      clock,
      checkInteger("heartbeatTimeout", options.heartbeatTimeout ?? 60_000, 0),
    ),
    maxChannels: checkInteger("maxChannels", options.maxChannels ?? 100, 1),
    maxQueuedEvents: checkInteger("maxQueuedEvents", options.maxQueuedEvents ?? 1024, 1),
    onError: (onError as App["onError"] | undefined) ?? logError,
    id: id as App["id"],
  };
}

function logError(error: unknown, context: ChannelErrorContext): void {
  console.error(`channels: ${context.source} of ${context.topic} failed:`, error);
}

// The upgrade hook: the vsn, the subprotocol, the params and the token, then `connect`; what
// it accepts is marked genuine, for init to tell it from an argument made elsewhere.
function upgradeHook<A>(connect: ChannelsOptions<A>["connect"]): ConnectHook<A> {
  return (request, info, response) => {
    const vsn = vsnOf(request.url);
    if (!VERSIONS.has(vsn)) {
      return new Response(`Unsupported vsn ${vsn}; this server speaks 2.0.0\n`, { status: 400 });
    }
    const header = request.headers.get("sec-websocket-protocol");
    if (info !== undefined && info.protocol !== "phoenix" && offersPhoenix(header)) {
      throw new TypeError(
        'Cannot accept a phoenix client: the adapter did not negotiate the "phoenix" subprotocol (pass app.adapterOptions)',
      );
    }
    const params = paramsOf(request.url);
    const accept = (assigns: A | Response): ConnectArg<A> | Response => {
      if (assigns instanceof Response) return assigns;
      const arg = { params, vsn, assigns };
      genuine.add(arg);
      return arg;
    };
    if (connect === undefined) return accept(undefined as A);
    const result = connect(params, { token: tokenOf(header), request, info, response });
    return isThenable(result)
      ? Promise.resolve(result).then(accept)
      : accept(result as A | Response);
  };
}

// A socket opens (init): with what the upgrade hook accepted, or without a hook (the params
// from the URL); refused when `connect` was skipped, the vsn is not spoken, or the id is bad.
function openSocket(
  app: App,
  connected: boolean,
  arg: ConnectArg<unknown> | undefined,
  connection: Connection<SocketMail>,
): Result<Sock> {
  const connectArg = arg !== undefined && genuine.has(arg) ? arg : {
    params: paramsOf(connection.url),
    vsn: vsnOf(connection.url),
    assigns: undefined,
  };
  const sock = new Sock(app, connection, connectArg);
  if (connected && connectArg !== arg) {
    const error = new TypeError(
      "Cannot open a socket: the connect hook did not run (pass app.adapterOptions)",
    );
    sock.report(error, "connect", "phoenix");
    return stop(error, sock, { code: 1011, reason: "Connect hook did not run" });
  }
  if (!VERSIONS.has(connectArg.vsn)) {
    return stop("unsupported vsn", sock, { code: 1008, reason: "Unsupported vsn" });
  }
  if (app.id !== undefined) {
    try {
      sock.identify(app.id(sock.assigns, sock.params));
    } catch (error) {
      sock.report(error, "connect", "phoenix");
      return stop(error as Error, sock, { code: 1011, reason: "Invalid socket id" });
    }
  }
  app.heartbeats.add(sock);
  return ok(sock);
}

// A frame from the client: one message, dispatched to the socket or one of its channels.
function socketIn<S>(data: string | Uint8Array, state: S): Result<S> {
  let message: Message;
  try {
    message = decodeMessage(data);
  } catch (error) {
    return stop((error as Error).message, state, { code: 1007, reason: "Malformed message" });
  }
  return frames(state, (state as unknown as Sock).receive(message));
}

// The socket's mail: for one of its channels, or from the app (the heartbeat sweeper, a
// disconnect broadcast).
function socketMail<S>(mail: SocketMail, state: S): Result<S> {
  const sock = state as unknown as Sock;
  if (mail.target === DISCONNECT) {
    return stop("normal", state, { code: 1000, reason: "Disconnected" });
  }
  if (mail.target === HEARTBEAT) {
    if (!sock.app.heartbeats.expired(sock)) return ok(state);
    return stop("heartbeat timeout", state, { code: 1001, reason: "Heartbeat timeout" });
  }
  return frames(state, sock.deliver(mail.target as ChannelProcess, mail.message, mail.out));
}

// The socket ended: its heartbeat is no longer watched; its channels end.
function socketClosed<S>(reason: TerminateReason, state: S): Promise<void> | undefined {
  const sock = state as unknown as Sock;
  sock.app.heartbeats.delete(sock);
  return sock.close(reason);
}
