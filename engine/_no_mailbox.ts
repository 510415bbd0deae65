// Mail for a handler without `handleInfo`: `send` drops it and returns false, and the error
// hook is told once per connection (a handler that gets no mail needs no `handleInfo`).

import { withCode } from "./errors.ts";

const told = new WeakSet<object>();

/**
 * Refuse a message for a connection whose handler has no `handleInfo`.
 *
 * @param engine The connection's engine (the key of "told once").
 * @param report Tells the error hook.
 * @returns `false`: the message was dropped.
 */
export function refuseMail(engine: object, report: (error: TypeError) => void): false {
  if (!told.has(engine)) {
    told.add(engine);
    const message = "Cannot send to the mailbox: the handler has no handleInfo (message dropped)";
    report(withCode(new TypeError(message), "NO_HANDLE_INFO"));
  }
  return false;
}
