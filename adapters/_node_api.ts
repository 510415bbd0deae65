// The Node adapter's API types: its options (and their names) and what its functions return.

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

const SERVE_ONLY = "serve() listens, websockUpgrade() serves on your own server";

/** The names of websockUpgrade()'s own options, and serve()'s. */
export const UPGRADE_OPTIONS: readonly string[] = ["perMessageDeflate"];
export const SERVE_OPTIONS: readonly string[] = [...UPGRADE_OPTIONS, "port", "hostname"];

/** serve()'s options, refused by websockUpgrade() with the reason. */
export const UPGRADE_REFUSED: Readonly<Record<string, string>> = {
  port: SERVE_ONLY,
  hostname: SERVE_ONLY,
};
