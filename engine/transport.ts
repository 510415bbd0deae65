// What an adapter gives the engine: the transport it sends on, and what an engine is made with.

import type { ConnectionInfo } from "../websock.ts";
import type { ResolvedEngineOptions } from "./options.ts";
import type { Registry } from "./registry.ts";

/**
 * What the engine needs from a socket. Adapters implement it over their server's socket.
 * Sends after the socket closed must be harmless no-ops.
 */
export interface Transport {
  /** Send a text frame. */
  sendText(data: string): void;
  /** Send a binary frame. */
  sendBinary(data: Uint8Array): void;
  /**
   * Send a ping; leave it out when the server cannot (a pushed ping then fails clearly). The
   * engine also pings through it, with an empty payload, to keep a silent peer alive (see
   * `timeout`); report pongs with `engine.control("pong", data)`.
   */
  sendPing?(data: Uint8Array): void;
  /** Send a pong; leave it out when the server cannot (a pushed pong then fails clearly). */
  sendPong?(data: Uint8Array): void;
  /** Send a close frame and close the socket. The code and reason are already checked. */
  close(code: number, reason: string): void;
  /** Bytes queued toward the peer and not yet written. */
  bufferedAmount(): number;
  /**
   * `true` when the runtime runs the keep-alive itself with the engine's `timeout`, as Deno's
   * `idleTimeout` does: it pings a silent peer, closes one that does not answer, and the
   * adapter reports that with `engine.error(cause, true)`. The engine then never closes a
   * peer for silence (it cannot see the pongs). When this is not set and `sendPing` is
   * missing, the engine can only judge by what it receives: it closes after `timeout`
   * without a message.
   */
  readonly runtimeKeepAlive?: boolean;
}

/** What an engine is made with, besides the handler and the transport. */
export interface EngineInit<A> {
  /** The argument `init` receives. */
  readonly arg: A;
  /** The connection's URL, headers, address and subprotocol. */
  readonly info: ConnectionInfo;
  /** Limits, error hook and clock, from {@linkcode resolveEngineOptions}. */
  readonly options: ResolvedEngineOptions;
  /** Called once the connection is over (after `terminate` settled, if it ran). */
  readonly onDone?: () => void;
  /**
   * Where the connection is tracked for a drain: the engine adds itself now and removes
   * itself once it is over.
   */
  readonly registry?: Registry;
}
