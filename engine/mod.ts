/**
 * The runtime-neutral connection engine that every adapter drives: one per connection. It
 * owns the event queue (socket events and mailbox messages, one at a time, in order), the
 * keep-alive, the limits, and the mapping from callback results to frames and close codes.
 *
 * An adapter translates its server's socket events into calls of {@linkcode Engine.open},
 * {@linkcode Engine.receive}, {@linkcode Engine.control}, {@linkcode Engine.error} and
 * {@linkcode Engine.closed}, and implements {@linkcode Transport} for what the engine sends.
 * It validates upgrades with {@linkcode checkUpgrade}, {@linkcode checkOrigin} and
 * {@linkcode negotiateProtocol}, and drains connections with a {@linkcode Registry}.
 *
 * @example A minimal in-memory transport
 * ```ts
 * import assert from "node:assert/strict";
 * import { Engine, resolveEngineOptions, type Transport } from "@websock/websock/engine";
 * import { ok, push, type WebSock } from "@websock/websock";
 *
 * const Echo = {
 *   init: () => ok(null),
 *   handleIn: (data, state) => push(data, state),
 *   handleInfo: (_message, state) => ok(state),
 * } satisfies WebSock<null>;
 *
 * const sent: unknown[] = [];
 * const transport: Transport = {
 *   sendText: (data) => sent.push(data),
 *   sendBinary: (data) => sent.push(data),
 *   close: (code, reason) => sent.push({ code, reason }),
 *   bufferedAmount: () => 0,
 * };
 * const info = { url: "ws://x/", headers: new Headers(), remoteAddr: null, protocol: "" };
 * const engine = new Engine(Echo, transport, {
 *   arg: undefined,
 *   info,
 *   options: resolveEngineOptions({ timeout: 0 }),
 * });
 * engine.open();
 * engine.receive("hi");
 * engine.closed(1000, "");
 * assert.deepEqual(sent, ["hi"]); // the peer closed first: no close frame of ours
 * ```
 *
 * @module
 */

export { Engine } from "./engine.ts";
export { type EngineError, type EngineErrorCode, engineErrorCode, withCode } from "./errors.ts";
export { checkHandler } from "./check_handler.ts";
export {
  type PreparedUpgrade,
  prepareUpgrade,
  type UpgradeRequest,
  upgradeRequestOf,
  whenReady,
} from "./prepare_upgrade.ts";
export { checkOptionNames } from "./check_options.ts";
export type { EngineInit, Transport } from "./transport.ts";
export {
  type Clock,
  ENGINE_OPTION_NAMES,
  type EngineOptions,
  type ErrorContext,
  type ErrorSource,
  type ResolvedEngineOptions,
  resolveEngineOptions,
} from "./options.ts";
export type {
  CallbackErrorEvent,
  CallbackName,
  CloseFrame,
  ConnectionStartEvent,
  ConnectionStats,
  ConnectionStopEvent,
  MailboxDropEvent,
  SlowPeerEvent,
  Telemetry,
  Traffic,
  UpgradeRefusedEvent,
} from "./telemetry.ts";
export { type Drainable, Registry, type ShutdownOptions } from "./registry.ts";
export {
  checkOrigin,
  checkUpgrade,
  type HeaderReader,
  isWebSocketUpgrade,
  negotiateProtocol,
  type OriginPolicy,
  type Rejection,
} from "./handshake.ts";
export {
  type AdapterOptions,
  connectionInfo,
  extraResponseHeaders,
  type InitTakesAnArgumentSoUpgradeMustReturnIt,
  keptHeaders,
  type OptionsArgs,
  rejectionResponse,
  reportRefusal,
  resolveAdapterOptions,
  type ResolvedAdapterOptions,
  type UpgradeHook,
  type UpgradeResponse,
  vetUpgrade,
  withUpgradeHook,
} from "./adapter_options.ts";
export {
  type NativeHub,
  type NativeState,
  type NativeTopics,
  nativeTopicsOf,
  offerNativeTopics,
} from "./topics.ts";
export * from "../websock.ts";
export { CloseCode } from "../close.ts";
