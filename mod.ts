/**
 * WebSock: serve WebSocket connections with a handler that is a plain state machine, on any
 * server. A port of Elixir's `WebSock` ("Plug for WebSockets") to Deno.
 *
 * This module is the behaviour: the {@linkcode WebSock} interface a handler implements, the
 * results its callbacks return ({@linkcode ok}, {@linkcode push}, {@linkcode stop}), the
 * frames it sends ({@linkcode text}, {@linkcode binary}, {@linkcode ping}, {@linkcode pong})
 * and the reasons a connection ends. It touches no runtime API; adapters such as
 * `@websock/websock/deno` host a handler on a real server.
 *
 * Each connection behaves like an actor: its callbacks never overlap, even async ones, and
 * socket events and mailbox messages are handled one at a time, in order.
 *
 * @example A counter
 * ```ts
 * import assert from "node:assert/strict";
 * import { ok, push, stop, type WebSock } from "@websock/websock";
 *
 * export const Counter = {
 *   init: () => ok({ count: 0 }),
 *   handleIn(data, state) {
 *     if (data === "bye") return stop("normal", state);
 *     const count = state.count + 1;
 *     return push(`message ${count}`, { count });
 *   },
 * } satisfies WebSock<{ count: number }>;
 *
 * // A handler is plain data: test it without a socket.
 * assert.deepEqual(Counter.handleIn("hello", { count: 0 }), {
 *   kind: "push",
 *   messages: "message 1",
 *   state: { count: 1 },
 * });
 * assert.equal(Counter.handleIn("bye", { count: 1 }).kind, "stop");
 * ```
 *
 * @module
 */

export * from "./websock.ts";
export { CloseCode } from "./close.ts";
