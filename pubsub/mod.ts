/**
 * Pub/sub for WebSock connections: topics that connections' mailboxes subscribe to, and a
 * {@linkcode PubSub.publish} that delivers a message to every subscriber's `handleInfo`.
 *
 * A {@linkcode PubSub} delivers in-process by default (zero setup). To reach the connections
 * of other processes or workers, give it a {@linkcode Backend}: the
 * {@linkcode BroadcastChannelBackend} here (the workers of `deno serve --parallel`), or the
 * Redis backend in `@websock/websock/pubsub-redis` (several hosts).
 *
 * Delivery is **at most once**. Messages of one publisher reach each subscriber in the order
 * they were published (within one node, and from one node to another through one backend);
 * messages of different publishers may interleave differently on different nodes. A message
 * published while a backend is down, or before a remote subscription is confirmed, may be
 * lost. Messages that cross a backend must survive its encoding: structured clone for
 * `BroadcastChannel`, JSON for Redis.
 *
 * A subscription with `encode` is the fastlane: each publish encodes the message once and sends
 * it to those subscribers as a frame (`connection.sendFrame`), without `handleInfo`, still in
 * order with each connection's own pushes; on the Bun adapter through Bun's native topics.
 * `publish` returns how many subscribers took the message and how many did not.
 *
 * This module is runtime-neutral and has no dependencies.
 *
 * @example A chat room
 * ```ts
 * import assert from "node:assert/strict";
 * import { ok, push, type Connection, type WebSock } from "@websock/websock";
 * import { PubSub } from "@websock/websock/pubsub";
 * import { TestConnection } from "@websock/websock/testing";
 *
 * type Said = { from: string; text: string };
 * const room = new PubSub<Said>();
 *
 * export const Chat = {
 *   init(name, connection) {
 *     room.subscribe("lobby", connection); // unsubscribed by itself once the connection closes
 *     return ok({ name, connection });
 *   },
 *   handleIn(data, state) {
 *     if (typeof data === "string") room.publish("lobby", { from: state.name, text: data });
 *     return ok(state);
 *   },
 *   handleInfo: (said, state) => push(`${said.from}: ${said.text}`, state),
 *   terminate(_reason, state) {
 *     room.unsubscribe("lobby", state.connection); // optional: frees the slot at once
 *   },
 * } satisfies WebSock<{ name: string; connection: Connection<Said> }, Said, string>;
 *
 * const ann = await TestConnection.start(Chat, { arg: "ann" });
 * const bob = await TestConnection.start(Chat, { arg: "bob" });
 * await ann.receive("hi");
 * await bob.receive("hello");
 * assert.deepEqual(bob.texts(), ["ann: hi", "bob: hello"]);
 * assert.deepEqual(ann.texts(), bob.texts());
 * ```
 *
 * @module
 */

export * from "./pubsub.ts";
export * from "./broadcast_channel.ts";
export * from "./history_backend.ts";
export * from "./history.ts";
export * from "./memory_history.ts";
