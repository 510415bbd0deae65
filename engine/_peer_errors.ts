// A peer's errors, one place for their messages and codes: a message over maxMessageBytes
// (a runtime that enforces the limit itself, as Bun does, does not say the size) and a broken
// protocol (where the runtime says so without an error of its own).

import { type EngineError, withCode } from "./errors.ts";

/** A peer's message over `maxMessageBytes` (1009); `size` where the runtime says it. */
export function messageTooBig(max: number, size?: number): EngineError<RangeError> {
  const what = size === undefined ? "more" : `${size} bytes is more`;
  const message = `Cannot receive message: ${what} than maxMessageBytes ${max}`;
  return withCode(new RangeError(message), "MESSAGE_TOO_BIG");
}

/** The peer broke the WebSocket protocol, as the runtime says in `reason`. */
export function protocolError(reason: string): EngineError {
  return withCode(new Error(`The peer broke the WebSocket protocol: ${reason}`), "PROTOCOL_ERROR");
}
