/**
 * Test a {@linkcode WebSock} handler without a socket: {@linkcode TestConnection} hosts it on
 * the real engine (the same code every adapter drives, so the semantics cannot drift) over an
 * in-memory transport, with a {@linkcode FakeClock} so that keep-alive pings and timeouts
 * happen when the test says, not after real waiting.
 *
 * @example Test a counter
 * ```ts
 * import assert from "node:assert/strict";
 * import { ok, push, stop, type WebSock } from "@websock/websock";
 * import { TestConnection } from "@websock/websock/testing";
 *
 * const Counter = {
 *   init: () => ok(0),
 *   handleIn: (data, n) => data === "bye" ? stop("normal", n) : push(`#${n + 1}`, n + 1),
 * } satisfies WebSock<number>;
 *
 * const conn = await TestConnection.start(Counter);
 * await conn.receive("a");
 * await conn.receive("b");
 * assert.deepEqual(conn.texts(), ["#1", "#2"]);
 * assert.equal(conn.state, 2);
 * await conn.receive("bye");
 * assert.deepEqual(conn.closeFrame, { code: 1000, reason: "" });
 * assert.deepEqual(conn.terminateReason, { type: "normal", code: 1000, reason: "" });
 * ```
 *
 * @module
 */

export * from "./test_connection.ts";
export { FakeClock } from "./fake_clock.ts";

export type {
  CallbackErrorEvent,
  CallbackName,
  Clock,
  CloseFrame,
  ConnectionStartEvent,
  ConnectionStats,
  ConnectionStopEvent,
  EngineOptions,
  ErrorContext,
  ErrorSource,
  MailboxDropEvent,
  SlowPeerEvent,
  Telemetry,
  Traffic,
  UpgradeRefusedEvent,
} from "../engine/mod.ts";

export type {
  BinaryMessage,
  Connection,
  ConnectionInfo,
  ControlMessage,
  OutMessage,
  RemoteAddr,
  TerminateReason,
  TextMessage,
} from "../websock.ts";
