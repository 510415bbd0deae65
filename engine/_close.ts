// The rules for close codes and reasons a handler asks for.

import { showValue } from "./show_value.ts";
import { utf8Length } from "./utf8_length.ts";

/** Whether a code may be sent in a close frame (1000-1003, 1007-1014, 3000-4999). */
export function isSendableCloseCode(code: number): boolean {
  return Number.isInteger(code) &&
    ((code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
      (code >= 3000 && code <= 4999));
}

/**
 * Check a close code and reason before they are sent.
 *
 * @throws {TypeError} When the code is not a number or the reason not a string.
 * @throws {RangeError} When the code may not be sent or the reason is over 123 UTF-8 bytes.
 */
export function checkClose(code: unknown, reason: unknown): void {
  if (typeof code !== "number") {
    throw new TypeError(`Cannot close WebSocket: code ${showValue(code)} is not a number`);
  }
  if (!isSendableCloseCode(code)) {
    throw new RangeError(
      `Cannot close WebSocket: code ${code} is not 1000-1003, 1007-1014 or 3000-4999`,
    );
  }
  if (typeof reason !== "string") {
    throw new TypeError(`Cannot close WebSocket: reason ${showValue(reason)} is not a string`);
  }
  const bytes = reason.length > 41 ? utf8Length(reason) : 0;
  if (bytes > 123) {
    throw new RangeError(`Cannot close WebSocket: reason is ${bytes} UTF-8 bytes, more than 123`);
  }
}
