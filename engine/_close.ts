// The rules for close codes and reasons a handler asks for.

import { showValue } from "./show_value.ts";

const encoder = new TextEncoder();

/** The UTF-8 length of a string, without allocating. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

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
  if (reason.length > 41 && encoder.encode(reason).byteLength > 123) {
    throw new RangeError(
      `Cannot close WebSocket: reason is ${
        encoder.encode(reason).byteLength
      } UTF-8 bytes, more than 123`,
    );
  }
}
