// The one call that prepares an upgrade, the same way on every adapter: the request is vetted
// (RFC 6455 §4.2.1, origin, subprotocol), its connection info made (the kept headers), and
// the upgrade hook run. The outcome is either "accept, with init's argument, the info and the
// 101's extra headers" or "refuse, with this response"; the adapter only performs it.

import type { ConnectionInfo, RemoteAddr } from "../websock.ts";
import type { HeaderReader } from "./handshake.ts";
import {
  connectionInfo,
  keptHeaders,
  rejectionResponse,
  type ResolvedAdapterOptions,
  vetUpgrade,
  withUpgradeHook,
} from "./adapter_options.ts";

/** An upgrade request as an adapter sees it, whatever its server. */
export interface UpgradeRequest {
  /** The request method. */
  readonly method: string;
  /** The request URL (absolute). */
  readonly url: string;
  /** The request headers, read one name at a time. */
  readonly headers: HeaderReader;
  /** The HTTP version (`"1.1"`), where the server shows it (Node does). */
  readonly httpVersion?: string;
  /** The peer's address, or `null`. */
  readonly remoteAddr: RemoteAddr | null;
  /** A copy of every request header (for `keepHeaders: true`). */
  allHeaders(): Headers;
  /** The `Request` the upgrade hook sees (asked for only when there is a hook). */
  request(): Request;
}

/** What to do with an upgrade request: accept it or refuse it. */
export type PreparedUpgrade<A> =
  | {
    /** Accept: upgrade the connection and run `init` with `arg`. */
    readonly accept: true;
    /** The argument `init` receives (the hook's value, `undefined` without a hook). */
    readonly arg: A;
    /** The connection's info (negotiated subprotocol, kept headers). */
    readonly info: ConnectionInfo;
    /** Headers the hook added for the 101 (the handshake's own left out). */
    readonly headers: readonly [string, string][];
  }
  | {
    /** Refuse: answer with `response`. */
    readonly accept: false;
    /** The 4xx (or the hook's own response, or a 500 when the hook threw). */
    readonly response: Response;
  };

/**
 * Prepare an upgrade: vet the request, make its info, run the upgrade hook. Synchronous
 * unless the hook returns a promise. Refusals are told to telemetry (`onUpgradeRefused`) and
 * a hook that throws is told to `onError` (and answered with 500).
 *
 * @param options The resolved adapter options.
 * @param request The request, as the adapter's server shows it.
 * @returns Accept (with `arg`, `info`, `headers`) or refuse (with `response`), or a promise
 *   of it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { prepareUpgrade, resolveAdapterOptions } from "@websock/websock/engine";
 *
 * const request = new Request("http://localhost/", {
 *   headers: {
 *     host: "localhost",
 *     upgrade: "websocket",
 *     connection: "Upgrade",
 *     "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
 *     "sec-websocket-version": "13",
 *   },
 * });
 * const prepared = prepareUpgrade(resolveAdapterOptions({ upgrade: () => "ann" }), {
 *   method: request.method,
 *   url: request.url,
 *   headers: request.headers,
 *   remoteAddr: null,
 *   allHeaders: () => new Headers(request.headers),
 *   request: () => request,
 * });
 * assert.ok(!(prepared instanceof Promise) && prepared.accept && prepared.arg === "ann");
 * ```
 */
export function prepareUpgrade<A>(
  options: ResolvedAdapterOptions<A, unknown>,
  request: UpgradeRequest,
): PreparedUpgrade<A> | Promise<PreparedUpgrade<A>> {
  const { headers } = request;
  const protocol = vetUpgrade(request.method, headers, options, request.httpVersion);
  if (typeof protocol !== "string") return { accept: false, response: rejectionResponse(protocol) };
  const kept = keptHeaders(options, headers, () => request.allHeaders());
  const info = connectionInfo(request.url, kept, request.remoteAddr, protocol);
  if (options.upgrade === undefined) {
    return { accept: true, arg: undefined as A, info, headers: [] };
  }
  return withUpgradeHook<A, PreparedUpgrade<A>>(
    options,
    request.request(),
    info,
    (arg, extra) => ({ accept: true, arg: arg as A, info, headers: extra }),
    (response) => ({ accept: false, response }),
  );
}

/**
 * A web `Request` (Deno's, Bun's) as {@linkcode prepareUpgrade} reads it.
 *
 * @param request The request.
 * @param remoteAddr The peer's address, or `null`.
 * @returns The upgrade request.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { upgradeRequestOf } from "@websock/websock/engine";
 * const request = upgradeRequestOf(new Request("http://localhost/"), null);
 * assert.equal(request.method, "GET");
 * ```
 */
export function upgradeRequestOf(request: Request, remoteAddr: RemoteAddr | null): UpgradeRequest {
  return {
    method: request.method,
    url: request.url,
    headers: request.headers,
    remoteAddr,
    allHeaders: () => new Headers(request.headers),
    request: () => request,
  };
}

/**
 * Continue with a value now, or once its promise settles: what an adapter does with
 * {@linkcode prepareUpgrade}'s outcome (a synchronous hook keeps the upgrade synchronous).
 *
 * @param value A value or a promise of it.
 * @param next What to do with it.
 * @returns What `next` returned, or a promise of it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { whenReady } from "@websock/websock/engine";
 * assert.equal(whenReady(2, (n) => n * 2), 4);
 * assert.equal(await whenReady(Promise.resolve(2), (n) => n * 2), 4);
 * ```
 */
export function whenReady<T, R>(value: T | Promise<T>, next: (value: T) => R): R | Promise<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}
