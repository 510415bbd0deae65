// The behaviour: what an application implements to serve one WebSocket connection, the
// results its callbacks return, and the reasons a connection ends. Plain data and plain
// functions only: nothing here knows about a runtime or a socket.

/** A text frame to send. Create one with {@linkcode text}. */
export interface TextMessage {
  /** The frame type. */
  readonly type: "text";
  /** The text to send. */
  readonly data: string;
}

/** A binary frame to send. Create one with {@linkcode binary}. */
export interface BinaryMessage {
  /** The frame type. */
  readonly type: "binary";
  /** The bytes to send. */
  readonly data: Uint8Array;
}

/** A ping or pong control frame to send. Create one with {@linkcode ping} or {@linkcode pong}. */
export interface ControlMessage {
  /** The frame type. */
  readonly type: "ping" | "pong";
  /** The payload, at most 125 bytes. */
  readonly data: Uint8Array;
}

/** A frame a callback asks to send. */
export type OutMessage = TextMessage | BinaryMessage | ControlMessage;

/**
 * What `push` and `stop` accept for one message: a frame, or the shorthands a `string`
 * (a text frame) and a `Uint8Array` (a binary frame).
 */
export type Outbound = OutMessage | string | Uint8Array;

/** A control frame received from the peer, given to `handleControl`. */
export interface ControlFrame {
  /** Whether it was a ping or a pong. */
  readonly type: "ping" | "pong";
  /** The payload, at most 125 bytes. */
  readonly data: Uint8Array;
}

/**
 * Why a handler stops. `"normal"` closes with 1000, `"shutdown"` with 1001, `"restart"` with
 * 1012; any other value closes with 1011. An explicit close code replaces the code, not the
 * reason: only `"normal"` reaches `terminate` as `normal`, any other value as an error.
 */
export type StopReason = "normal" | "shutdown" | "restart" | string | Error;

/** The close code, or the code and reason, that a `stop` result sends. */
export type CloseDetail = number | { readonly code: number; readonly reason?: string };

/** Keep going with a new state. Create one with {@linkcode ok}. */
export interface OkResult<S> {
  /** The result kind. */
  readonly kind: "ok";
  /** The connection's new state. */
  readonly state: S;
}

/** Send messages, in order, then keep going. Create one with {@linkcode push}. */
export interface PushResult<S> {
  /** The result kind. */
  readonly kind: "push";
  /** One message or a list, sent in order. */
  readonly messages: Outbound | readonly Outbound[];
  /** The connection's new state. */
  readonly state: S;
}

/** Send the messages (if any), then close the connection. Create one with {@linkcode stop}. */
export interface StopResult<S> {
  /** The result kind. */
  readonly kind: "stop";
  /** Why the handler stops; decides the close code unless `close` is given. */
  readonly reason: StopReason;
  /** The state `terminate` receives. */
  readonly state: S;
  /** The close code, or code and reason, to send instead of the one `reason` implies. */
  readonly close?: CloseDetail;
  /** Messages sent before the close frame. */
  readonly messages?: Outbound | readonly Outbound[];
}

/** What every callback but `terminate` returns. */
export type Result<S> = OkResult<S> | PushResult<S> | StopResult<S>;

/** A result, or a promise of one: callbacks may be synchronous or async. */
export type CallbackResult<S> = Result<S> | Promise<Result<S>>;

/**
 * Why a connection ended, as `terminate` is told.
 *
 * - `normal`: the handler returned `stop("normal", ...)`; `code` and `reason` are the close
 *   frame sent: 1000, or the code (and reason) the stop gave.
 * - `remote`: the peer closed; `code` is the peer's close code (1005 when it sent none) and
 *   `reason` its reason.
 * - `shutdown`: the server drained its connections, or the handler returned `stop("shutdown")`
 *   or `stop("restart")`; `code` is the close code sent (1001 or 1012).
 * - `timeout`: the peer showed no sign of life (no message, no pong to a keep-alive ping) for
 *   `timeout`, or sent no data message for `dataTimeout`.
 * - `error`: a callback threw or returned something invalid, a limit was exceeded, the peer
 *   broke the protocol, the transport failed, or the handler stopped with a reason other than
 *   the ones above, whatever close code it gave (`stop("done", state, 4001)` closes with 4001
 *   and `terminate` gets an error whose `error` is `"done"`); `error` holds the cause.
 *
 * @example The stop's reason decides, not its close code
 * ```ts
 * import assert from "node:assert/strict";
 * import { ok, stop, type WebSock } from "@websock/websock";
 * import { TestConnection } from "@websock/websock/testing";
 *
 * const Handler = {
 *   init: () => ok(null),
 *   handleIn: (data, state) => stop(data === "bye" ? "normal" : String(data), state, 4001),
 *   handleInfo: (_message, state) => ok(state),
 * } satisfies WebSock<null, never, undefined>;
 *
 * const normal = await TestConnection.start(Handler, { arg: undefined });
 * await normal.receive("bye");
 * assert.deepEqual(normal.terminateReason, { type: "normal", code: 4001, reason: "" });
 *
 * const done = await TestConnection.start(Handler, { arg: undefined });
 * await done.receive("done");
 * assert.deepEqual(done.closeFrame, { code: 4001, reason: "" });
 * assert.deepEqual(done.terminateReason, { type: "error", error: "done" });
 * ```
 */
export type TerminateReason =
  | { readonly type: "normal"; readonly code: number; readonly reason: string }
  | { readonly type: "remote"; readonly code: number; readonly reason: string }
  | { readonly type: "shutdown"; readonly code: number }
  | { readonly type: "timeout" }
  | { readonly type: "error"; readonly error: unknown };

/** The peer's address, when the server knows it. */
export interface RemoteAddr {
  /** The peer's IP address or host name. */
  readonly hostname: string;
  /** The peer's port. */
  readonly port: number;
}

/** What is known of a connection when it is upgraded. */
export interface ConnectionInfo {
  /** The URL of the upgrade request. */
  readonly url: string;
  /** The headers of the upgrade request (a snapshot: the request itself is gone). */
  readonly headers: Headers;
  /** The peer's address, or `null` when the server does not say. */
  readonly remoteAddr: RemoteAddr | null;
  /** The negotiated subprotocol, or `""` when none was. */
  readonly protocol: string;
}

/**
 * A connection's handle: what it was upgraded with, and its mailbox. `send` queues a message
 * for the handler's `handleInfo`; it can be called from anywhere (a timer, another
 * connection, a pub/sub subscriber).
 */
export interface Connection<M> extends ConnectionInfo {
  /**
   * Queue a message for `handleInfo`. Returns `false` (and drops the message) when the
   * connection is closing or closed, when its queue is full (which closes it with 1013), or
   * when its handler has no `handleInfo` (the error hook is told once per connection).
   */
  send(message: M): boolean;
  /**
   * Send a frame to the peer as it is, without `handleInfo`: the fastlane for fan-out, where
   * one message is encoded once for many connections (pub/sub's `encode` subscription option
   * uses it). It goes out now when nothing of the connection's is running or waiting, else in
   * its turn after the events already queued: it never overtakes the pushes of earlier events.
   * Returns `false` (and drops the frame) when the connection is closing or closed, when its
   * queue is full (which closes it with 1013), or when its peer does not read (more than
   * `maxBufferedBytes` wait: it closes with 1008).
   *
   * @throws {TypeError} When `data` is neither a `string` (a text frame) nor a `Uint8Array`
   *   (a binary frame).
   */
  sendFrame(data: string | Uint8Array): boolean;
  /** Whether the connection has closed or is closing: `send` now returns `false`. */
  readonly closed: boolean;
  /**
   * Call `listener` once when the connection starts closing (when `closed` turns true; at
   * once, in a microtask, if it already has). For clean-up outside the handler, such as
   * leaving pub/sub topics.
   *
   * @returns A function that removes the listener.
   */
  onClose(listener: () => void): () => void;
}

/**
 * The behaviour: serve one WebSocket connection as a state machine.
 *
 * Callbacks of one connection never overlap, even when they are async: socket events and
 * mailbox messages are delivered one at a time, in order.
 *
 * Write a handler as an object literal and check it with `satisfies WebSock<State>`: the
 * callbacks' parameters are typed from it, and the object keeps its own type, so the
 * argument its `init` declares (`init: (user: string) => ...`) is what the adapter's
 * `upgrade` hook must return and what `upgrade(request, handler, arg)` must be given. Name
 * `M` when the handler gets mail (`handleInfo`); `A` only matters when a value is annotated
 * as `WebSock<S, M, A>` instead.
 *
 * @typeParam S The connection's state, which every callback receives and returns.
 * @typeParam M The mailbox messages `handleInfo` receives (`connection.send(message)`);
 *   `never` (the default) for a handler that gets none.
 * @typeParam A The argument `init` receives (what the `upgrade` hook returns); `unknown` (the
 *   default) accepts any `init` parameter.
 *
 * @example Echo
 * ```ts
 * import assert from "node:assert/strict";
 * import { ok, push, type WebSock } from "@websock/websock";
 *
 * export const Echo = {
 *   init: () => ok(null),
 *   handleIn: (data, state) => push(data, state),
 * } satisfies WebSock<null>;
 *
 * // A handler is plain data: call its callbacks directly.
 * assert.deepEqual(Echo.handleIn("hi", null), { kind: "push", messages: "hi", state: null });
 * ```
 *
 * @example An argument and mail
 * ```ts
 * import assert from "node:assert/strict";
 * import { ok, push, type WebSock } from "@websock/websock";
 *
 * export const Greeter = {
 *   init: (user: string) => push(`hello ${user}`, { user }),
 *   handleIn: (_data, state) => ok(state),
 *   handleInfo: (news: string, state) => push(news, state),
 * } satisfies WebSock<{ user: string }, string>;
 *
 * assert.deepEqual(Greeter.handleInfo("lunch at noon", { user: "ann" }).messages, "lunch at noon");
 * ```
 */
export interface WebSock<S, M = never, A = unknown> {
  /**
   * Called once the connection is open, before any other callback.
   *
   * @param arg The value the upgrade produced (the adapter's `upgrade` hook, or the `arg` of
   *   `upgrade()`); `undefined` without one.
   * @param connection The connection's info and mailbox.
   * @returns The first result, which holds the initial state.
   */
  init(arg: A, connection: Connection<M>): CallbackResult<S>;
  /**
   * Called with each complete (reassembled) data message: a `string` for a text message, a
   * `Uint8Array` for a binary one.
   */
  handleIn(data: string | Uint8Array, state: S): CallbackResult<S>;
  /**
   * Called with each ping or pong from the peer, after the server has answered a ping.
   * Optional; never called on adapters that cannot see control frames (Deno).
   */
  handleControl?(frame: ControlFrame, state: S): CallbackResult<S>;
  /**
   * Called with each message sent to the connection's mailbox. Optional: without it the
   * mailbox takes nothing (`send` returns `false` and the error hook is told once).
   */
  handleInfo?(message: M, state: S): CallbackResult<S>;
  /**
   * Called exactly once when a connection whose `init` returned a valid result ends, with the
   * last good state. Its return value is ignored; a throw or rejection is only logged.
   */
  terminate?(reason: TerminateReason, state: S): void | Promise<void>;
}

/**
 * Keep going with a new state.
 *
 * @param state The connection's new state.
 * @returns An `ok` result.
 *
 * @example Count messages
 * ```ts
 * import assert from "node:assert/strict";
 * import { ok } from "@websock/websock";
 *
 * assert.deepEqual(ok({ count: 1 }), { kind: "ok", state: { count: 1 } });
 * ```
 */
export function ok<S>(state: S): OkResult<S> {
  return { kind: "ok", state };
}

/**
 * Send one message or a list of messages, in order, then keep going.
 *
 * @param messages A frame, a `string` (text), a `Uint8Array` (binary), or a list of them.
 * @param state The connection's new state.
 * @returns A `push` result.
 *
 * @example Reply twice
 * ```ts
 * import assert from "node:assert/strict";
 * import { binary, push } from "@websock/websock";
 *
 * const result = push(["hello", binary(new Uint8Array([1, 2]))], { seen: 1 });
 * assert.deepEqual(result, {
 *   kind: "push",
 *   messages: ["hello", { type: "binary", data: new Uint8Array([1, 2]) }],
 *   state: { seen: 1 },
 * });
 * ```
 */
export function push<S>(messages: Outbound | readonly Outbound[], state: S): PushResult<S> {
  return { kind: "push", messages, state };
}

/**
 * Close the connection: send `messages` (if any), then a close frame, then call `terminate`.
 *
 * @param reason `"normal"` (1000), `"shutdown"` (1001), `"restart"` (1012) or any other value
 *   (1011, and `terminate` sees an error).
 * @param state The state `terminate` receives.
 * @param close A close code, or `{ code, reason }`, to send instead of the one `reason` implies.
 * @param messages Messages to send before the close frame.
 * @returns A `stop` result.
 *
 * @example Say goodbye
 * ```ts
 * import assert from "node:assert/strict";
 * import { stop } from "@websock/websock";
 *
 * // "see you" goes out first, then the close frame 4000 "bye"; terminate sees "normal".
 * const result = stop("normal", {}, { code: 4000, reason: "bye" }, "see you");
 * assert.deepEqual(result, {
 *   kind: "stop",
 *   reason: "normal",
 *   state: {},
 *   close: { code: 4000, reason: "bye" },
 *   messages: "see you",
 * });
 * ```
 */
export function stop<S>(
  reason: StopReason,
  state: S,
  close?: CloseDetail,
  messages?: Outbound | readonly Outbound[],
): StopResult<S> {
  return { kind: "stop", reason, state, close, messages };
}

/**
 * A text frame.
 *
 * @param data The text.
 * @returns The frame.
 *
 * @example A text frame (the same as pushing the string)
 * ```ts
 * import assert from "node:assert/strict";
 * import { text } from "@websock/websock";
 *
 * assert.deepEqual(text("hi"), { type: "text", data: "hi" });
 * ```
 */
export function text(data: string): TextMessage {
  return { type: "text", data };
}

/**
 * A binary frame.
 *
 * @param data The bytes.
 * @returns The frame.
 *
 * @example A binary frame (the same as pushing the bytes)
 * ```ts
 * import assert from "node:assert/strict";
 * import { binary } from "@websock/websock";
 *
 * assert.deepEqual(binary(new Uint8Array([1, 2, 3])), {
 *   type: "binary",
 *   data: new Uint8Array([1, 2, 3]),
 * });
 * ```
 */
export function binary(data: Uint8Array): BinaryMessage {
  return { type: "binary", data };
}

/**
 * A ping control frame. Not every adapter can send one: see the adapter capability table.
 *
 * @param data The payload, at most 125 bytes.
 * @returns The frame.
 *
 * @example An empty ping
 * ```ts
 * import assert from "node:assert/strict";
 * import { ping } from "@websock/websock";
 *
 * assert.deepEqual(ping(), { type: "ping", data: new Uint8Array() });
 * ```
 */
export function ping(data: Uint8Array = new Uint8Array()): ControlMessage {
  return { type: "ping", data };
}

/**
 * A pong control frame. Not every adapter can send one: see the adapter capability table.
 *
 * @param data The payload, at most 125 bytes.
 * @returns The frame.
 *
 * @example A pong with a payload
 * ```ts
 * import assert from "node:assert/strict";
 * import { pong } from "@websock/websock";
 *
 * assert.deepEqual(pong(new Uint8Array([42])), { type: "pong", data: new Uint8Array([42]) });
 * ```
 */
export function pong(data: Uint8Array = new Uint8Array()): ControlMessage {
  return { type: "pong", data };
}
