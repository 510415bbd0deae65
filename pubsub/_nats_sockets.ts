// Keep the NATS client's sockets from crashing the process with an 'error' nobody listens to.
//
// The client (npm:@nats-io/transport-node 3.x) removes every listener of a socket it is done
// with, then destroys it. Under Deno a read that was already under way can still fail after
// that (`read ECONNRESET`: a server that refuses a login, or dies with our bytes unread,
// resets the connection), and an 'error' event without a listener is an uncaught exception:
// it would take the whole server down. Each socket the client dials gets an 'error' listener
// that does nothing and stays: the client's own listeners still see every error while it
// uses the socket (it learns of a lost connection from them and from 'close'), and once it
// has let the socket go, a late error has nobody left to tell.

import { NodeTransport } from "npm:@nats-io/transport-node@^3.4.0/lib/node_transport.js";

/** The part of a `node:net` socket used here. */
interface Listened {
  on(event: "error", listener: () => void): unknown;
  removeAllListeners(...event: unknown[]): unknown;
}

const ignore = () => {};
const guarded = new WeakSet<object>();

/** Give the socket an 'error' listener that stays, even through `removeAllListeners()`. */
export function guardSocket<S extends Listened>(socket: S): S {
  if (guarded.has(socket)) return socket;
  guarded.add(socket);
  socket.on("error", ignore);
  const removeAll = socket.removeAllListeners;
  socket.removeAllListeners = function (this: S, ...event: unknown[]) {
    // Spread: removeAllListeners(undefined) is not removeAllListeners().
    const result = removeAll.apply(this, event);
    if (event.length === 0 || event[0] === "error") this.on("error", ignore);
    return result;
  };
  return socket;
}

type Dial = (this: unknown, ...args: unknown[]) => Promise<Listened>;
let installed = false;

/**
 * Guard every socket the NATS client makes, plain or TLS (idempotent). It wraps the methods
 * of the client's transport that make them; a client made by `connect()` of the same
 * package anywhere in the process is guarded too, which only ever keeps it from crashing.
 */
export function guardNatsSockets(): void {
  if (installed) return;
  installed = true;
  const proto = NodeTransport.prototype as unknown as Record<string, Dial>;
  for (const name of ["dial", "tlsFirst", "startTLS"]) {
    const make = proto[name];
    if (typeof make !== "function") continue;
    proto[name] = async function (this: unknown, ...args: unknown[]) {
      return guardSocket(await make.apply(this, args));
    };
  }
}
