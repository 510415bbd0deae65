// The Node adapter's API types: its options and what its functions return.

import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import type { Buffer } from "node:buffer";
import type { AdapterOptions, Registry, ShutdownOptions } from "../engine/mod.ts";

/** Options of `websockUpgrade()`: the shared adapter options plus compression. */
export interface NodeUpgradeOptions<A, M = unknown> extends AdapterOptions<A, M> {
  /**
   * Negotiate permessage-deflate (`true`, or `ws`'s `perMessageDeflate` options).
   * @default {false}
   */
  perMessageDeflate?: boolean | Record<string, unknown>;
}

/** Options of `serve()`: where to listen, plus those of `websockUpgrade()`. */
export interface NodeServeOptions<A, M = unknown> extends NodeUpgradeOptions<A, M> {
  /**
   * The port to listen on (`0`: any free one).
   * @default {8080}
   */
  port?: number;
  /**
   * The address to listen on.
   * @default {"127.0.0.1"}
   */
  hostname?: string;
}

/** A `node:http` `upgrade` listener that serves WebSocket connections, and drains them. */
export interface NodeUpgradeHandler {
  /** Answer one upgrade request: upgrade it or refuse it with a 4xx. */
  (request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Close every connection (1001, or 1012 with `restart`); resolves once all are over. */
  shutdown(options?: ShutdownOptions): Promise<void>;
  /** The handler's live connections. */
  readonly registry: Registry;
}

/** What `serve()` returns: the server, its address once listening, and shutdown. */
export interface NodeServer {
  /** The `node:http` server. */
  readonly server: Server;
  /** The `upgrade` listener. */
  readonly upgrade: NodeUpgradeHandler;
  /** Resolves with the bound address once the server listens. */
  readonly listening: Promise<{ hostname: string; port: number }>;
  /** Drain the connections (1001), then close the server. */
  shutdown(options?: ShutdownOptions): Promise<void>;
}
