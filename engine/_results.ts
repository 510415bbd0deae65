// What the engine checks in a callback's result before acting on it, and what a stop means.

import { checkClose } from "./_close.ts";
import { withCode } from "./errors.ts";
import { showValue } from "./show_value.ts";
import type { Outbound, StopResult, TerminateReason } from "../websock.ts";

/** Whether a value is a promise or a hand-made thenable. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as { then?: unknown }).then === "function";
}

/** The close code of a stop without one. */
function defaultCode(reason: unknown): number {
  switch (reason) {
    case "normal":
      return 1000;
    case "shutdown":
      return 1001;
    case "restart":
      return 1012;
    default:
      return 1011;
  }
}

/**
 * The close code and reason a stop result asks for, checked.
 *
 * @throws {TypeError|RangeError} When the code or reason cannot be sent.
 */
export function closeOf(result: StopResult<unknown>): [code: number, reason: string] {
  const close = result.close;
  let code: number, reason: string;
  if (close === undefined) {
    code = defaultCode(result.reason);
    reason = "";
  } else if (typeof close === "number") {
    code = close;
    reason = "";
  } else {
    code = close?.code;
    reason = close?.reason ?? "";
  }
  try {
    checkClose(code, reason);
  } catch (error) {
    throw withCode(error as Error, "INVALID_CLOSE");
  }
  return [code, reason];
}

/** What `terminate` is told after a stop result. */
export function endOf(result: StopResult<unknown>, code: number, reason: string): TerminateReason {
  switch (result.reason) {
    case "normal":
      return { type: "normal", code, reason };
    case "shutdown":
    case "restart":
      return { type: "shutdown", code };
    default:
      return { type: "error", error: result.reason };
  }
}

/**
 * Check what `Engine.sendFrame` was given: a `string` or a `Uint8Array`.
 *
 * @throws {TypeError} When it is anything else.
 */
export function checkFrame(data: unknown): void {
  if (typeof data === "string" || data instanceof Uint8Array) return;
  throw new TypeError(
    `Cannot send frame: ${showValue(data)} is not a string or a Uint8Array`,
  );
}

/** Which control frames the transport can send. */
export interface ControlSupport {
  readonly sendPing?: unknown;
  readonly sendPong?: unknown;
}

/**
 * Check what a callback asks to send, before anything is sent.
 *
 * @throws {TypeError|RangeError} Naming the first message that cannot be sent.
 */
export function checkMessages(messages: unknown, transport: ControlSupport): void {
  try {
    if (Array.isArray(messages)) {
      for (const message of messages) checkMessage(message, transport);
    } else checkMessage(messages, transport);
  } catch (error) {
    throw withCode(error as Error, "INVALID_RESULT");
  }
}

function checkMessage(message: unknown, transport: ControlSupport): void {
  if (typeof message === "string" || message instanceof Uint8Array) return;
  const m = message as { type?: unknown; data?: unknown };
  switch (m?.type) {
    case "text":
      if (typeof m.data === "string") return;
      break;
    case "binary":
      if (m.data instanceof Uint8Array) return;
      break;
    case "ping":
    case "pong": {
      if (!(m.data instanceof Uint8Array)) break;
      const can = m.type === "ping" ? transport.sendPing : transport.sendPong;
      if (!can) {
        throw new TypeError(`Cannot push a ${m.type}: this adapter cannot send control frames`);
      }
      if (m.data.byteLength > 125) {
        throw new RangeError(
          `Cannot push a ${m.type}: payload of ${m.data.byteLength} bytes is more than 125`,
        );
      }
      return;
    }
  }
  throw new TypeError(
    `Invalid message to push: expected a string, a Uint8Array or text(), binary(), ping(), pong(), got ${
      showValue(message)
    }`,
  );
}

/** The messages of a push or a stop, as a list or one. */
export type Messages = Outbound | readonly Outbound[];
