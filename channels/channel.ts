// A channel definition: the behaviour of one joined topic, state in, result out, and the
// results its callbacks return.

import type { ConnectionInfo, TerminateReason } from "../websock.ts";
import type { PublishResult } from "../pubsub/pubsub.ts";

/** The channel joined: its first state, and the join reply's response. */
export interface JoinedResult<S> {
  /** The result kind. */
  readonly kind: "joined";
  /** The channel's first state. */
  readonly state: S;
  /** The response of the `ok` join reply (`{}` when omitted). */
  readonly response: unknown;
}

/** The join was refused: the client gets an `error` join reply (and rejoins with backoff). */
export interface RefusedResult {
  /** The result kind. */
  readonly kind: "refused";
  /** The response of the `error` join reply. */
  readonly response: unknown;
}

/** What `join` returns. */
export type JoinResult<S> = JoinedResult<S> | RefusedResult;

/** Answer the client's push: a `phx_reply` with this status and response. */
export interface ReplyResult<S> {
  /** The result kind. */
  readonly kind: "reply";
  /** `"ok"`, `"error"`, or another status the client's `receive` listens for. */
  readonly status: string;
  /** A JSON value, or a `Uint8Array` (a binary reply frame). */
  readonly response: unknown;
  /** The channel's new state. */
  readonly state: S;
}

/** Keep going with a new state, without a reply. */
export interface NoReplyResult<S> {
  /** The result kind. */
  readonly kind: "noreply";
  /** The channel's new state. */
  readonly state: S;
}

/**
 * End the channel (not the socket): `"normal"` and `"shutdown"` send `phx_close` (the client
 * does not rejoin); any other reason sends `phx_error` (the client rejoins).
 */
export interface ChannelStopResult<S> {
  /** The result kind. */
  readonly kind: "stop";
  /** Why: `"normal"`, `"shutdown"`, or another string or an `Error` (an error). */
  readonly reason: string | Error;
  /** The state `terminate` receives. */
  readonly state: S;
  /** A reply to the push being handled, sent before the close (in `handleIn` only). */
  readonly reply?: { readonly status: string; readonly response: unknown };
}

/** What `handleIn` returns. */
export type InResult<S> = ReplyResult<S> | NoReplyResult<S> | ChannelStopResult<S>;

/** What `handleInfo` and `handleOut` return. */
export type InfoResult<S> = NoReplyResult<S> | ChannelStopResult<S>;

/**
 * Why a joined channel ended, as `terminate` is told:
 *
 * - `leave`: the client left (`phx_leave`).
 * - `replaced`: the client joined the same topic again; the old channel got `phx_close`.
 * - `closed`: the socket ended; `reason` is the socket's own terminate reason.
 * - `stop`: a callback returned {@linkcode stop} with this reason.
 * - `error`: a callback threw or returned something invalid (the client got `phx_error`).
 */
export type ChannelEnd =
  | { readonly type: "leave" }
  | { readonly type: "replaced" }
  | { readonly type: "closed"; readonly reason: TerminateReason }
  | { readonly type: "stop"; readonly reason: string | Error }
  | { readonly type: "error"; readonly error: unknown };

/**
 * One joined channel's handle, as `join` receives it: its topic, the socket's assigns and
 * params, a way to push events to the client, its mailbox, broadcasts, and its end.
 *
 * It is a pub/sub subscriber too: `pubsub.subscribe(topic, socket)` delivers that topic's
 * messages to the channel's `handleInfo`, until the channel ends.
 *
 * @typeParam M The mailbox messages `handleInfo` receives.
 * @typeParam A The socket's assigns (what the `connect` hook returned).
 */
export interface ChannelSocket<M = never, A = unknown> {
  /** The channel's topic, such as `"room:lobby"`. */
  readonly topic: string;
  /** The ref of the join (pushes carry it; the client drops those of an older join). */
  readonly joinRef: string;
  /** What the socket's `connect` hook returned (`undefined` without one). */
  readonly assigns: A;
  /** The socket's connect params (the query string, `vsn` excluded). */
  readonly params: Readonly<Record<string, string>>;
  /** The socket's connection: URL, kept headers, peer address, subprotocol. */
  readonly connection: ConnectionInfo;
  /** Whether the channel has ended (or is ending): pushes and mail are dropped. */
  readonly closed: boolean;
  /**
   * Push an event to this channel's client, in order with the channel's replies. Inside
   * `join` it is held and sent right after the `ok` reply (dropped if the join is refused).
   *
   * @param event The event name.
   * @param payload A JSON value, or a `Uint8Array` (a binary frame).
   * @returns `false` when dropped: the channel or the socket has ended.
   * @throws {RangeError} With a `Uint8Array` payload, when the event or topic is over 255
   *   bytes (the binary frame's limit).
   */
  push(event: string, payload: unknown): boolean;
  /**
   * Queue a message for the channel's `handleInfo` (through the socket's mailbox, so it is
   * bounded by the socket's `maxQueuedEvents`). Never runs inside this call.
   *
   * @param message The message.
   * @returns `false` when dropped: the channel has ended, has no `handleInfo`, or the
   *   socket's queue is full.
   */
  send(message: M): boolean;
  /**
   * Broadcast an event to every subscriber of this channel's topic, this one included.
   *
   * @param event The event name.
   * @param payload A JSON value (or a `Uint8Array`, in-process only).
   * @returns How many subscribers on this node took it (on a HistoryPubSub, 0 and 0: it
   *   delivers once the message has its position).
   */
  broadcast(event: string, payload: unknown): PublishResult;
  /**
   * Broadcast an event to every subscriber of this channel's topic but this channel.
   *
   * @param event The event name.
   * @param payload A JSON value (or a `Uint8Array`, in-process only).
   * @returns How many subscribers on this node took it, this channel not counted (on a
   *   HistoryPubSub, 0 and 0).
   */
  broadcastFrom(event: string, payload: unknown): PublishResult;
  /**
   * Call `listener` once when the channel ends, for whatever reason (leave, socket closed,
   * crash); at once, in a microtask, if it already has.
   *
   * @param listener Called without arguments.
   * @returns A function that removes the listener.
   */
  onClose(listener: () => void): () => void;
}

/**
 * A channel definition: what serves the topics a route matches. State in, result out, like
 * the WebSock behaviour; a joined channel's callbacks never overlap (async ones included)
 * and see its events in order, and each joined channel of a socket runs on its own.
 *
 * @typeParam S The channel's state.
 * @typeParam M The mailbox messages `handleInfo` receives.
 * @typeParam A The socket's assigns.
 *
 * @example A room
 * ```ts
 * import { type Channel, joined, noreply, reply } from "@websock/websock/channels";
 *
 * export const Room = {
 *   join: (topic, _payload, socket) => joined({ topic, socket }),
 *   handleIn(event, payload, state) {
 *     if (event === "ping") return reply("ok", { pong: true }, state);
 *     state.socket.broadcast("shout", payload);
 *     return noreply(state);
 *   },
 * } satisfies Channel<{ topic: string; socket: { broadcast(e: string, p: unknown): unknown } }>;
 * ```
 */
export interface Channel<S, M = never, A = unknown> {
  /**
   * The client joins a topic the route matches.
   *
   * @param topic The topic.
   * @param payload The join's payload (the client's channel params).
   * @param socket The channel's handle.
   * @returns {@linkcode joined} or {@linkcode refused}, or a promise of one.
   */
  join(
    topic: string,
    payload: unknown,
    socket: ChannelSocket<M, A>,
  ): JoinResult<S> | Promise<JoinResult<S>>;
  /**
   * An event the client pushed. Without it, every push gets an `error` reply
   * `{ reason: "unhandled event" }`.
   *
   * @returns {@linkcode reply}, {@linkcode noreply} or {@linkcode stop}, or a promise of one.
   */
  handleIn?(event: string, payload: unknown, state: S): InResult<S> | Promise<InResult<S>>;
  /**
   * A message sent to the channel's mailbox (`socket.send`, or a pub/sub topic the
   * `socket` subscribed to).
   *
   * @returns {@linkcode noreply} or {@linkcode stop}, or a promise of one.
   */
  handleInfo?(message: M, state: S): InfoResult<S> | Promise<InfoResult<S>>;
  /**
   * The outgoing filter (Phoenix's `intercept`): broadcasts on the channel's topic whose
   * event is listed here go through {@linkcode Channel.handleOut} instead of straight to the
   * client. Each one costs this channel an encode of its own.
   */
  readonly intercept?: readonly string[];
  /**
   * An intercepted broadcast: push it (`socket.push`), changed or not, or drop it.
   *
   * @returns {@linkcode noreply} or {@linkcode stop}, or a promise of one.
   */
  handleOut?(event: string, payload: unknown, state: S): InfoResult<S> | Promise<InfoResult<S>>;
  /**
   * Called once when a joined channel ends, with its last good state; after any callback
   * in flight. Its return value is ignored; a throw or rejection is only reported.
   */
  terminate?(reason: ChannelEnd, state: S): void | Promise<void>;
}

/**
 * Accept a join.
 *
 * @param state The channel's first state.
 * @param response The `ok` reply's response.
 * @returns A `joined` result.
 *
 * @example
 * ```ts
 * import { joined } from "@websock/websock/channels";
 * const result = joined({ count: 0 }, { welcome: true });
 * ```
 */
export function joined<S>(state: S, response: unknown = {}): JoinedResult<S> {
  return { kind: "joined", state, response };
}

/**
 * Refuse a join: the client gets an `error` reply with this response (a string becomes
 * `{ reason }`, the shape the Phoenix client and server use).
 *
 * @param reason The response, or a reason string.
 * @returns A `refused` result.
 *
 * @example
 * ```ts
 * import { refused } from "@websock/websock/channels";
 * const result = refused("unauthorized"); // the reply's response: { reason: "unauthorized" }
 * ```
 */
export function refused(reason: unknown): RefusedResult {
  return { kind: "refused", response: typeof reason === "string" ? { reason } : reason };
}

/**
 * Reply to the push being handled.
 *
 * @param status `"ok"`, `"error"`, or another status.
 * @param response A JSON value, or a `Uint8Array` (a binary reply).
 * @param state The channel's new state.
 * @returns A `reply` result.
 *
 * @example
 * ```ts
 * import { reply } from "@websock/websock/channels";
 * const result = reply("ok", { saved: 3 }, { saved: 3 });
 * ```
 */
export function reply<S>(status: string, response: unknown, state: S): ReplyResult<S> {
  return { kind: "reply", status, response, state };
}

/**
 * Keep going, without a reply.
 *
 * @param state The channel's new state.
 * @returns A `noreply` result.
 *
 * @example
 * ```ts
 * import { noreply } from "@websock/websock/channels";
 * const result = noreply({ seen: 1 });
 * ```
 */
export function noreply<S>(state: S): NoReplyResult<S> {
  return { kind: "noreply", state };
}

/**
 * End the channel (the socket and its other channels go on): `"normal"` or `"shutdown"`
 * sends `phx_close`, any other reason `phx_error` (the client rejoins).
 *
 * @param reason Why.
 * @param state The state `terminate` receives.
 * @param reply A reply to the push being handled (in `handleIn`), sent first.
 * @returns A `stop` result.
 *
 * @example Leave after answering
 * ```ts
 * import { stop } from "@websock/websock/channels";
 * const result = stop("normal", {}, { status: "ok", response: { bye: true } });
 * ```
 */
export function stop<S>(
  reason: string | Error,
  state: S,
  reply?: { readonly status: string; readonly response: unknown },
): ChannelStopResult<S> {
  return reply === undefined
    ? { kind: "stop", reason, state }
    : { kind: "stop", reason, state, reply };
}
