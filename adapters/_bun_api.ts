// The Bun adapter's API types: the part of Bun's server API it uses (typed here: the adapter
// runs under Deno's checker too, where @types/bun is not loaded), its options (their names,
// and those it refuses) and what websockServe() returns.

import type { AdapterOptions, Registry, ShutdownOptions } from "../engine/mod.ts";

/** The part of Bun's `ServerWebSocket` the adapter uses. */
export interface BunWebSocket {
  /** What `server.upgrade` attached: the connection's engine. */
  readonly data: BunSocketData;
  /** Send a frame: bytes sent, `-1` when queued under backpressure, `0` when dropped. */
  send(data: string | Uint8Array, compress?: boolean): number;
  /** Send a ping. */
  ping(data?: Uint8Array): number;
  /** Send a pong. */
  pong(data?: Uint8Array): number;
  /** Close with a code and reason. */
  close(code?: number, reason?: string): void;
  /** Subscribe to a native topic. */
  subscribe(topic: string): void;
  /** Unsubscribe from a native topic. */
  unsubscribe(topic: string): void;
  /** Bytes queued toward the peer. */
  getBufferedAmount(): number;
}

/** What the adapter attaches to each Bun socket. */
export interface BunSocketData {
  /** The connection's transport and engine. */
  readonly socket: unknown;
}

/** The part of Bun's `Server` the adapter uses. */
export interface BunServer {
  /** Upgrade a request; `false` when it is not a valid upgrade. */
  upgrade(request: Request, options: { data: BunSocketData; headers?: HeadersInit }): boolean;
  /** The peer's address. */
  requestIP(request: Request): { address: string; port: number } | null;
  /** Send a frame to every socket subscribed to a native topic (returns bytes, not sockets). */
  publish(topic: string, data: string | Uint8Array, compress?: boolean): number;
}

/** The `websocket` member of `Bun.serve`'s options, as the adapter fills it. */
export interface BunWebSocketHandler {
  /** The socket opened. */
  open(ws: BunWebSocket): void;
  /** A data message arrived. */
  message(ws: BunWebSocket, message: string | Uint8Array): void;
  /** A ping arrived (Bun has answered it). */
  ping(ws: BunWebSocket, data: Uint8Array): void;
  /** A pong arrived. */
  pong(ws: BunWebSocket, data: Uint8Array): void;
  /** The socket closed. */
  close(ws: BunWebSocket, code: number, reason: string): void;
  /** Bun's own limit, from the `maxMessageBytes` option. */
  readonly maxPayloadLength: number;
  /**
   * Bun's own send-buffer limit, over which it drops messages: set out of the way (4 GiB), as
   * the engine closes a slow peer itself (`maxBufferedBytes`).
   */
  readonly backpressureLimit: number;
  /**
   * Bun's own keep-alive, off (`0`): the engine pings and closes silent peers itself (Bun's
   * timer is reset by every send, so it would keep a dead peer that the server writes to).
   */
  readonly idleTimeout: number;
  /** Bun's automatic pings, off with its keep-alive. */
  readonly sendPings: boolean;
  /** Whether to negotiate permessage-deflate. */
  readonly perMessageDeflate: boolean;
}

/** Options of `websockServe()`: the shared adapter options plus Bun's own. */
export interface BunServeOptions<A, M = unknown> extends AdapterOptions<A, M> {
  /**
   * Negotiate permessage-deflate; messages of 1 KiB and more are then sent compressed (Bun
   * compresses only what `send(data, true)` asks for).
   * @default {false}
   */
  perMessageDeflate?: boolean;
  /**
   * Answers requests that are not WebSocket upgrades.
   * @default {426 with Upgrade: websocket}
   */
  fallback?: (request: Request, server: BunServer) => Response | Promise<Response>;
}

/** What to spread into `Bun.serve`'s options: `fetch` and `websocket`, plus shutdown. */
export interface BunServe {
  /** Upgrade, refuse or pass on one request. */
  fetch(request: Request, server: BunServer): Response | undefined | Promise<Response | undefined>;
  /** The WebSocket handlers and limits. */
  readonly websocket: BunWebSocketHandler;
  /** Close every connection (1001, or 1012 with `restart`); resolves once all are over. */
  shutdown(options?: ShutdownOptions): Promise<void>;
  /** The live connections. */
  readonly registry: Registry;
}

/** The names of websockServe()'s own options. */
export const SERVE_OPTIONS: readonly string[] = ["perMessageDeflate", "fallback"];

/** Options the Bun adapter no longer takes, refused with the reason. */
export const REFUSED: Readonly<Record<string, string>> = {
  bunIdleTimeout: "it was removed, the engine's timeout (ms) keeps peers alive",
};
