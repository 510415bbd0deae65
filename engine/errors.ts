// The machine-readable codes of the errors the engine makes (as ws gives its errors a
// `code`): a handler's `terminate`, the error hook and telemetry can tell them apart without
// reading messages.

/**
 * The `code` of an error the engine makes, and when it makes it:
 *
 * - `MESSAGE_TOO_BIG`: a peer's message over `maxMessageBytes` (closed with 1009).
 * - `QUEUE_FULL`: more than `maxQueuedEvents` events wait for the handler (1013).
 * - `SLOW_PEER`: a peer left more than `maxBufferedBytes` unread (1008).
 * - `INVALID_RESULT`: a callback returned something that is not a result, or a message that
 *   cannot be sent (1011).
 * - `INVALID_CLOSE`: a stop asked for a close code or reason that cannot be sent (1011).
 * - `CONNECTION_LOST`: the connection ended without a close frame (a dropped TCP connection:
 *   1006 on every adapter).
 * - `PROTOCOL_ERROR`: the peer broke the WebSocket protocol (where the runtime says so
 *   without an error of its own).
 * - `NO_HANDLE_INFO`: mail for a handler without `handleInfo` (dropped).
 * - `ABANDONED`: a callback did not settle before the drain's deadline (1011).
 */
export type EngineErrorCode =
  | "MESSAGE_TOO_BIG"
  | "QUEUE_FULL"
  | "SLOW_PEER"
  | "INVALID_RESULT"
  | "INVALID_CLOSE"
  | "CONNECTION_LOST"
  | "PROTOCOL_ERROR"
  | "NO_HANDLE_INFO"
  | "ABANDONED";

/** An error the engine made: a standard error with its {@linkcode EngineErrorCode}. */
export type EngineError<E extends Error = Error> = E & { readonly code: EngineErrorCode };

/**
 * Give an error its code.
 *
 * @param error The error.
 * @param code Its code.
 * @returns The same error, with `code`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withCode } from "@websock/websock/engine";
 * const error = withCode(new RangeError("Too big"), "MESSAGE_TOO_BIG");
 * assert.equal(error.code, "MESSAGE_TOO_BIG");
 * ```
 */
export function withCode<E extends Error>(error: E, code: EngineErrorCode): EngineError<E> {
  return Object.assign(error, { code });
}

/**
 * The code of an error the engine made, or `undefined` for any other value.
 *
 * @param error A terminate reason's `error`, or what the error hook was told.
 * @returns Its {@linkcode EngineErrorCode}, if it has one.
 *
 * @example In terminate
 * ```ts
 * import assert from "node:assert/strict";
 * import { ok, type WebSock } from "@websock/websock";
 * import { engineErrorCode } from "@websock/websock/engine";
 * import { TestConnection } from "@websock/websock/testing";
 *
 * const gone: string[] = [];
 * export const Handler = {
 *   init: () => ok(null),
 *   handleIn: (_data, state) => ok(state),
 *   terminate(reason) {
 *     if (reason.type === "error" && engineErrorCode(reason.error) === "CONNECTION_LOST") {
 *       gone.push("the peer went away without a close frame");
 *     }
 *   },
 * } satisfies WebSock<null>;
 *
 * const conn = await TestConnection.start(Handler);
 * await conn.close(1006); // what a dropped TCP connection looks like
 * assert.deepEqual(gone, ["the peer went away without a close frame"]);
 * ```
 */
export function engineErrorCode(error: unknown): EngineErrorCode | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && CODES.has(code) ? code as EngineErrorCode : undefined;
}

const CODES: ReadonlySet<string> = new Set<EngineErrorCode>([
  "MESSAGE_TOO_BIG",
  "QUEUE_FULL",
  "SLOW_PEER",
  "INVALID_RESULT",
  "INVALID_CLOSE",
  "CONNECTION_LOST",
  "PROTOCOL_ERROR",
  "NO_HANDLE_INFO",
  "ABANDONED",
]);
