// Small helpers of the channels entry.

/** Whether a value is a promise or a hand-made thenable. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as { then?: unknown }).then === "function";
}

/** A short description of a value for an error message. */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value).slice(0, 80);
  if (value === null || typeof value !== "object") return String(value);
  try {
    return JSON.stringify(value)?.slice(0, 80) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

const utf8 = new TextEncoder();

/** The UTF-8 length of a string, without encoding it when it is surely short. */
export function byteLength(text: string, limit: number): number {
  return text.length * 3 <= limit ? text.length : utf8.encode(text).byteLength;
}
