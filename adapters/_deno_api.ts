// The Deno adapter's API types: its options (and those it refuses) and what its functions
// return.

import type { AdapterOptions, Registry, ShutdownOptions } from "../engine/mod.ts";

/**
 * The options of the Deno adapter: the shared adapter options (Deno's keep-alive follows
 * `timeout`; `keepHeaders` is shared too).
 */
export type DenoOptions<A, M = unknown> = AdapterOptions<A, M>;

/** Options of `upgrade()`: those of the adapter, without a hook (`arg` is given). */
export interface UpgradeOptions<M = unknown> extends Omit<DenoOptions<never, M>, "upgrade"> {
  /**
   * Where the connection is tracked, so that `registry.shutdown()` can drain it.
   * @default {None}
   */
  registry?: Registry;
  /**
   * The peer's address, from `Deno.serve`'s handler info.
   * @default {None: remoteAddr is null}
   */
  info?: Deno.ServeHandlerInfo;
  /**
   * Headers to add to the 101 response, such as a session cookie (the handshake's own are
   * ignored).
   * @default {None}
   */
  headers?: HeadersInit;
}

/**
 * The arguments of `upgrade()` after the handler: the argument `init` receives, then
 * the options. `arg` may be left out when `init` takes none (`A` admits `undefined`):
 * `upgrade(request, Echo)`, or `upgrade(request, Echo, undefined, { registry })`.
 *
 * @typeParam A The argument `init` receives.
 * @typeParam M The mailbox messages.
 */
export type UpgradeArgs<A, M = unknown> = undefined extends A
  ? [arg?: A, options?: UpgradeOptions<M>]
  : [arg: A, options?: UpgradeOptions<M>];

/** Options of `websockHandler()`. */
export interface WebSockHandlerOptions<A, M = unknown> extends DenoOptions<A, M> {
  /**
   * Answers requests that are not WebSocket upgrades.
   * @default {426 with Upgrade: websocket}
   */
  fallback?: (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;
}

/** A `Deno.serve` handler that serves WebSocket connections, and drains them. */
export interface WebSockHandler {
  /** Answer one request: upgrade it, refuse it, or pass it to the fallback. */
  (request: Request, info?: Deno.ServeHandlerInfo): Response | Promise<Response>;
  /**
   * Close every connection of this handler (1001, or 1012 with `restart`) so that each
   * `terminate` sees `shutdown`; resolves once all of them are over. Call it before
   * `server.shutdown()`.
   */
  shutdown(options?: ShutdownOptions): Promise<void>;
  /** The handler's live connections. */
  readonly registry: Registry;
}

/** Options the Deno adapter cannot honour, refused with the reason. */
export const REFUSED: Readonly<Record<string, string>> = {
  perMessageDeflate:
    "Deno's WebSocket server cannot compress (permessage-deflate is on Node and Bun)",
  denoIdleTimeout: "it was removed, Deno's keep-alive follows timeout (ms)",
};
