// The result table, in one place: what a callback's result means (Bandit's
// handle_continuation). `decide` checks a result and turns it into what the engine does: the
// new state, the messages to send, and for a stop the close frame and what `terminate` sees.
// Nothing is sent until the whole result is known to be valid.

import { checkClose } from "./_close.ts";
import { withCode } from "./errors.ts";
import { showValue } from "./show_value.ts";
import { CloseCode } from "../close.ts";
import type { Outbound, StopResult, TerminateReason } from "../websock.ts";

/** The messages of a push or a stop, as a list or one. */
export type Messages = Outbound | readonly Outbound[];

/** Which control frames the transport can send. */
export interface ControlSupport {
  readonly sendPing?: unknown;
  readonly sendPong?: unknown;
}

/** What a valid result asks the engine to do. */
export interface Decision<S> {
  /** The handler's new state. */
  state: S;
  /** What to send first (`undefined`: nothing). */
  messages: Messages | undefined;
  /** For a stop: the close frame, and what `terminate` is told. */
  stop:
    | { readonly code: number; readonly reason: string; readonly end: TerminateReason }
    | undefined;
}

// One decision, reused: a result per message must not cost an allocation. `decide` fills it
// and the engine reads it at once, before anything else can decide.
const decision: Decision<unknown> = { state: undefined, messages: undefined, stop: undefined };

/**
 * Decide what a callback's result asks for.
 *
 * @param result What the callback returned (or its promise settled with).
 * @param source The callback's name, for the error.
 * @param transport What the transport can send (ping/pong).
 * @returns The decision (one object, reused by the next call: read it at once).
 * @throws {TypeError|RangeError} With code `INVALID_RESULT` (not a result, or a message that
 *   cannot be sent) or `INVALID_CLOSE` (a close code or reason that cannot be sent).
 */
export function decide<S>(result: unknown, source: string, transport: ControlSupport): Decision<S> {
  const r = result as { kind?: unknown; state: S; messages?: Messages };
  const d = decision as Decision<S>;
  switch (r?.kind) {
    case "ok":
      d.messages = undefined;
      d.stop = undefined;
      break;
    case "push":
      if (!isFrameData(r.messages)) checkMessages(r.messages, transport);
      d.messages = r.messages;
      d.stop = undefined;
      break;
    case "stop": {
      const [code, reason] = closeOf(result as StopResult<S>);
      if (r.messages !== undefined) checkMessages(r.messages, transport);
      const end = endOf(result as StopResult<S>, code, reason);
      d.messages = r.messages;
      d.stop = { code, reason, end };
      break;
    }
    default:
      throw withCode(
        new TypeError(
          `Invalid result from ${source}: expected ok(), push() or stop(), got ${
            showValue(result)
          }`,
        ),
        "INVALID_RESULT",
      );
  }
  d.state = r.state;
  return d;
}

/** Whether a settled value looks like a result (its state is kept after the end). */
export function isResult(value: unknown): value is { readonly state: unknown } {
  return value !== null && typeof value === "object" && "state" in value && "kind" in value;
}

// The close code of a stop without one.
function defaultCode(reason: unknown): number {
  switch (reason) {
    case "normal":
      return CloseCode.Normal;
    case "shutdown":
      return CloseCode.GoingAway;
    case "restart":
      return CloseCode.ServiceRestart;
    default:
      return CloseCode.InternalError;
  }
}

// The close code and reason a stop result asks for, checked.
function closeOf(result: StopResult<unknown>): [code: number, reason: string] {
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

// What `terminate` is told after a stop result.
function endOf(result: StopResult<unknown>, code: number, reason: string): TerminateReason {
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
  throw new TypeError(`Cannot send frame: ${showValue(data)} is not a string or a Uint8Array`);
}

// A lone string or Uint8Array: the common push, valid as it is.
function isFrameData(messages: unknown): boolean {
  return typeof messages === "string" || messages instanceof Uint8Array;
}

// Check what a callback asks to send, before anything is sent.
function checkMessages(messages: unknown, transport: ControlSupport): void {
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
