/**
 * Presence: who is in which topic, on every node, with no coordinator. A
 * {@linkcode Tracker} tracks keys (user ids) with metas (one per tab or device, each with its
 * own `phx_ref`) per owner (a socket) and topic, replicates each node's own entries to the
 * others over a `PubSub` (any backend: in-process, `BroadcastChannel`, Redis) by deltas and
 * heartbeats, and hands out the state and the diffs in the shape the phoenix client's
 * `Presence` consumes (`presence_state`, `presence_diff`).
 *
 * A node not heard of for `downAfter` (default 5 s) is down: its entries leave on every
 * other node. A node that comes back is asked for its state, which replaces what was known
 * of it. This module is runtime-neutral and has no dependencies.
 *
 * @example Two nodes of one process, over one PubSub
 * ```ts
 * import assert from "node:assert/strict";
 * import { PubSub } from "@websock/websock/pubsub";
 * import { FakeClock } from "@websock/websock/testing";
 * import { Tracker } from "@websock/websock/presence";
 *
 * const pubsub = new PubSub(); // one process here; with a backend, several
 * const clock = new FakeClock();
 * const a = new Tracker({ pubsub, name: "a", clock });
 * const b = new Tracker({ pubsub, name: "b", clock });
 * a.track({}, "room:lobby", "alice", { device: "phone" });
 * clock.advance(20); // batchDelay: a sends its delta
 * assert.deepEqual(Object.keys(b.list("room:lobby")), ["alice"]);
 * await a.close(); // b drops a's presences at once
 * assert.deepEqual(b.list("room:lobby"), {});
 * await b.close();
 * await pubsub.close();
 * ```
 *
 * @module
 */

export * from "./tracker.ts";
export * from "./presence.ts";
export * from "./types.ts";
export type { Clock } from "../engine/options.ts";
export type { PresenceCounts } from "../telemetry/presence_counts.ts";
