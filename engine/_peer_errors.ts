// The errors of a peer that an adapter learns of from its runtime instead of the engine:
// a message over maxMessageBytes, and a broken protocol, with their engine error codes.

import { type EngineError, withCode } from "./errors.ts";

/** A peer's message over `maxMessageBytes`, whose size the runtime does not say (1009). */
export function messageTooBig(max: number): EngineError<RangeError> {
  const message = `Cannot receive message: more than maxMessageBytes ${max}`;
  return withCode(new RangeError(message), "MESSAGE_TOO_BIG");
}

/** The peer broke the WebSocket protocol, as the runtime says in `reason`. */
export function protocolError(reason: string): EngineError {
  return withCode(new Error(`The peer broke the WebSocket protocol: ${reason}`), "PROTOCOL_ERROR");
}
