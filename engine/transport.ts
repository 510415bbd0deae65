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
  /** Send a ping; leave it out when the server cannot (a pushed ping then fails clearly). */
  sendPing?(data: Uint8Array): void;
  /** Send a pong; leave it out when the server cannot (a pushed pong then fails clearly). */
  sendPong?(data: Uint8Array): void;
  /** Send a close frame and close the socket. The code and reason are already checked. */
  close(code: number, reason: string): void;
  /** Bytes queued toward the peer and not yet written. */
  bufferedAmount(): number;
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
