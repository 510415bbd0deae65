/**
 * Telemetry for WebSock: {@linkcode Metrics}, a collector with no dependencies (counters,
 * gauges, histograms, a snapshot and Prometheus text), and the types of the `telemetry` option
 * every adapter takes ({@linkcode Telemetry}: connection start and stop with message, byte and
 * close-code counts, refused upgrades, errors, mailbox drops, slow peers). OpenTelemetry is in
 * `@websock/websock/otel`.
 *
 * @example Serve `/metrics` beside the WebSocket
 * ```ts ignore
 * import { websockHandler } from "@websock/websock/deno";
 * import { Metrics } from "@websock/websock/telemetry";
 * import { Chat } from "./chat.ts";
 *
 * const metrics = new Metrics();
 * Deno.serve(websockHandler(Chat, {
 *   telemetry: metrics,
 *   fallback: (request) =>
 *     new URL(request.url).pathname === "/metrics"
 *       ? metrics.response()
 *       : new Response("Not found\n", { status: 404 }),
 * }));
 * ```
 *
 * @example Read the counters
 * ```ts
 * import assert from "node:assert/strict";
 * import { Metrics } from "@websock/websock/telemetry";
 *
 * const metrics = new Metrics();
 * metrics.onUpgradeRefused({ status: 403, reason: "Origin not allowed" });
 * assert.deepEqual(metrics.snapshot().upgradesRefused, { "403": 1 });
 * assert.match(metrics.prometheus(), /^websock_upgrades_refused_total\{status="403"\} 1$/m);
 * ```
 *
 * @module
 */

export {
  type HistogramSnapshot,
  type KindTotals,
  Metrics,
  type MetricsOptions,
  type MetricsSnapshot,
  type PresenceCounts,
  type PresenceSource,
  PROMETHEUS_CONTENT_TYPE,
  type TrafficTotals,
} from "./metrics.ts";
export type {
  CallbackErrorEvent,
  CallbackName,
  CloseFrame,
  ConnectionStartEvent,
  ConnectionStats,
  ConnectionStopEvent,
  ErrorContext,
  ErrorSource,
  MailboxDropEvent,
  SlowPeerEvent,
  Telemetry,
  Traffic,
  UpgradeRefusedEvent,
} from "../engine/telemetry.ts";
export type { Connection, ConnectionInfo, RemoteAddr, TerminateReason } from "../websock.ts";
