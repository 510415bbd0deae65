// Native topics: a server's own fan-out (Bun's `ws.subscribe` + `server.publish`), offered by
// an adapter for each of its connections, so that pub/sub's fastlane reaches many sockets with
// one call. Runtime-neutral: the adapter wraps its server's calls.

import type { Connection } from "../websock.ts";

/** Where a native topic is published: one call reaches every socket subscribed to it. */
export interface NativeHub {
  /**
   * Send one frame to every socket subscribed to `topic` on this server.
   *
   * @param topic The native topic.
   * @param data A `string` (text frame) or a `Uint8Array` (binary frame).
   */
  publish(topic: string, data: string | Uint8Array): void;
}

/**
 * What a frame published through the hub would meet on one connection right now:
 * `"ready"` (it arrives after everything the connection sent before, and is not dropped),
 * `"busy"` (an event of the connection's own is running or waiting: send the frame through
 * `sendFrame`, which queues it behind), `"full"` (more than `maxBufferedBytes` wait for the
 * peer: send the frame through `sendFrame` too, where the engine's slow-peer rule decides) or
 * `"closed"`.
 */
export type NativeState = "ready" | "busy" | "full" | "closed";

/** A server's own topic fan-out, as an adapter offers it for one connection's socket. */
export interface NativeTopics {
  /** The server: the sockets of one hub are reached by one {@linkcode NativeHub.publish}. */
  readonly hub: NativeHub;
  /**
   * Subscribe the connection's socket to a native topic.
   *
   * @param topic The native topic.
   */
  subscribe(topic: string): void;
  /**
   * Unsubscribe the connection's socket from a native topic (a frame published before still
   * arrives).
   *
   * @param topic The native topic.
   */
  unsubscribe(topic: string): void;
  /**
   * What a frame published now would meet on this connection.
   *
   * @returns The connection's state, see {@linkcode NativeState}.
   */
  state(): NativeState;
  /**
   * The hub is publishing this frame to the connection's socket (its state was `ready`): the
   * adapter tells the engine (`Engine.countSent`), so that telemetry counts frames
   * the server sends natively as it counts the engine's.
   *
   * @param data The frame.
   */
  sent?(data: string | Uint8Array): void;
}

const offered = new WeakMap<object, NativeTopics>();

/**
 * Offer a connection's native topics (an adapter calls it once the socket is open): pub/sub
 * then reaches that connection's fastlane subscriptions through the hub.
 *
 * @param connection The connection's handle.
 * @param topics Its socket's native topics.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nativeTopicsOf, offerNativeTopics } from "@websock/websock/engine";
 * const connection = {} as Parameters<typeof offerNativeTopics>[0];
 * offerNativeTopics(connection, {
 *   hub: { publish: () => {} },
 *   subscribe: () => {},
 *   unsubscribe: () => {},
 *   state: () => "ready",
 * });
 * assert.equal(nativeTopicsOf(connection)?.state(), "ready");
 * ```
 */
export function offerNativeTopics(connection: Connection<unknown>, topics: NativeTopics): void {
  offered.set(connection, topics);
}

/**
 * The native topics an adapter offered for a connection.
 *
 * @param subscriber A connection's handle (or any other subscriber).
 * @returns Its native topics, or `undefined` when its server has none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nativeTopicsOf } from "@websock/websock/engine";
 * assert.equal(nativeTopicsOf({}), undefined);
 * ```
 */
export function nativeTopicsOf(subscriber: object): NativeTopics | undefined {
  return offered.get(subscriber);
}
