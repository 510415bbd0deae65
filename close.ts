// Close codes: the ones the engine sends, and the rules for codes and reasons a handler asks for.

/**
 * The close codes WebSock sends, by name (RFC 6455 §7.4 and the IANA registry).
 *
 * @example Close with a named code
 * ```ts
 * import assert from "node:assert/strict";
 * import { CloseCode, ok, stop, type WebSock } from "@websock/websock";
 * import { TestConnection } from "@websock/websock/testing";
 *
 * const Busy = {
 *   init: () => ok(null),
 *   handleIn: (_data, state) => stop("normal", state, CloseCode.TryAgainLater),
 * } satisfies WebSock<null>;
 *
 * const conn = await TestConnection.start(Busy);
 * await conn.receive("hello");
 * assert.deepEqual(conn.closeFrame, { code: 1013, reason: "" });
 * ```
 */
export const CloseCode = {
  /** 1000: the handler stopped with `"normal"`. */
  Normal: 1000,
  /** 1001: the server is shutting down, or the connection was idle too long. */
  GoingAway: 1001,
  /** 1002: the peer broke the protocol (sent by the runtime). */
  ProtocolError: 1002,
  /** 1007: a text message was not valid UTF-8 (sent by the runtime). */
  InvalidData: 1007,
  /** 1008: the peer does not read what the server sends (`maxBufferedBytes`). */
  PolicyViolation: 1008,
  /** 1009: a message was larger than `maxMessageBytes`. */
  MessageTooBig: 1009,
  /** 1011: a callback threw, returned an invalid result, or stopped with an error. */
  InternalError: 1011,
  /** 1012: the handler stopped with `"restart"`, or the server is restarting. */
  ServiceRestart: 1012,
  /** 1013: the connection's event queue (mailbox included) was full. */
  TryAgainLater: 1013,
  /** 1005: the peer's close frame had no code (never sent; only received). */
  NoStatus: 1005,
  /** 1006: the connection ended without a close frame (never sent; only reported). */
  Abnormal: 1006,
} as const;
