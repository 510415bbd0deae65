// What every adapter shares on the HTTP side: the options, their validation, the upgrade
// checks in order, and the upgrade hook. Runtime-neutral: `Request` and `Response` are web
// globals in Deno, Node 18+ and Bun.

import {
  checkOrigin,
  checkUpgrade,
  type HeaderReader,
  negotiateProtocol,
  type OriginPolicy,
  type Rejection,
} from "./handshake.ts";
import {
  ENGINE_OPTION_NAMES,
  type EngineOptions,
  type ResolvedEngineOptions,
  resolveEngineOptions,
} from "./options.ts";
import { checkOptionNames } from "./check_options.ts";
import type { Connection, ConnectionInfo, RemoteAddr } from "../websock.ts";
import { checkCallback } from "./check_callback.ts";
import { checkKeepHeaders, checkOriginPolicy, checkProtocols } from "./_validate.ts";

/** What the upgrade hook may add to the 101 response. */
export interface UpgradeResponse {
  /**
   * Headers for the 101 response, such as `set-cookie`. The handshake's own (`upgrade`,
   * `connection`, `sec-websocket-accept`, `sec-websocket-protocol`, `sec-websocket-extensions`)
   * are ignored.
   */
  readonly headers: Headers;
}

/**
 * The upgrade hook: the argument `init` receives, or a `Response` that refuses. It may add
 * headers to the 101 response through `response.headers`.
 */
export type UpgradeHook<A> = (
  request: Request,
  info: ConnectionInfo,
  response: UpgradeResponse,
) => A | Response | Promise<A | Response>;

/**
 * The options parameter of an adapter function, given the argument `A` that the handler's
 * `init` takes: optional when `init` takes none (`A` admits `undefined`); otherwise required,
 * with the `upgrade` hook that produces the argument. So `websockHandler(Echo)` compiles and
 * `websockHandler(Named)` without a hook does not.
 *
 * @typeParam O The adapter's options.
 * @typeParam A The argument `init` receives.
 */
export type OptionsArgs<O, A> = undefined extends A ? [options?: O]
  : [options: O & InitTakesAnArgumentSoUpgradeMustReturnIt<A>];

/**
 * The part of the options that a handler whose `init` takes an argument needs: the `upgrade`
 * hook that returns it. Its name is the compile error's message when the hook is missing.
 *
 * @typeParam A The argument `init` receives.
 */
export interface InitTakesAnArgumentSoUpgradeMustReturnIt<A> {
  /** Returns the argument `init` receives (or a `Response` that refuses the upgrade). */
  readonly upgrade: UpgradeHook<A>;
}

const HANDSHAKE_HEADERS = new Set([
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
]);

/**
 * The headers the upgrade hook added that an adapter may put on the 101 response: all but
 * the handshake's own.
 *
 * @param headers What the hook set.
 * @returns `[name, value]` pairs, `set-cookie` ones separately.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { extraResponseHeaders } from "@websock/websock/engine";
 * const headers = new Headers({ "set-cookie": "a=1", upgrade: "h2c" });
 * assert.deepEqual(extraResponseHeaders(headers), [["set-cookie", "a=1"]]);
 * ```
 */
export function extraResponseHeaders(headers: Headers): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of headers) {
    if (!HANDSHAKE_HEADERS.has(name)) out.push([name, value]);
  }
  return out;
}

/** The options every adapter takes: the engine's, plus the HTTP side's. */
export interface AdapterOptions<A, M = unknown> extends EngineOptions {
  /**
   * Subprotocols the server speaks, preferred first. The first one the client offers is
   * chosen; when the client offers some and none match, the upgrade is refused with 400.
   * @default {[]}
   */
  protocols?: readonly string[];
  /**
   * Which `Origin`s may connect (403 otherwise); requests without an `Origin` (non-browser
   * clients) pass. See {@linkcode OriginPolicy}.
   * @default {"same-origin"}
   */
  origins?: OriginPolicy;
  /**
   * Runs before the upgrade, once the request is valid: returns the argument `init` receives,
   * or a `Response` to refuse the upgrade (that is how authentication works). May be async.
   * It may add headers to the 101 (a session cookie) through its third argument's `headers`.
   * A throw or rejection is reported to `onError` and answered with 500.
   * @default {None: init receives undefined}
   */
  upgrade?: UpgradeHook<A>;
  /**
   * Called with each new connection's handle before `init` runs: the upgrading code's way
   * to its mailbox.
   * @default {None}
   */
  onConnection?: (connection: Connection<M>) => void;
  /**
   * Which request headers `connection.headers` keeps for the connection's lifetime: none
   * (`false`), a list of names, or all (`true`). A full snapshot costs memory on every
   * connection (on Deno about 10 KiB of RSS) and keeps cookies and tokens alive; the `upgrade`
   * hook sees the whole request, so read what `init` needs there and return it as its
   * argument.
   * @default {false}
   */
  keepHeaders?: boolean | readonly string[];
}

/** {@linkcode AdapterOptions} after validation, with the defaults filled in. */
export interface ResolvedAdapterOptions<A, M> {
  /** The engine's options. */
  readonly engine: ResolvedEngineOptions;
  /** See {@linkcode AdapterOptions.protocols}. */
  readonly protocols: readonly string[];
  /** See {@linkcode AdapterOptions.origins}. */
  readonly origins: OriginPolicy;
  /** See {@linkcode AdapterOptions.upgrade}. */
  readonly upgrade: UpgradeHook<A> | undefined;
  /** See {@linkcode AdapterOptions.onConnection}. */
  readonly onConnection: ((connection: Connection<M>) => void) | undefined;
  /** See {@linkcode AdapterOptions.keepHeaders} (names in lower case). */
  readonly keepHeaders: boolean | readonly string[];
}

/** The names of {@linkcode AdapterOptions} (the engine's included). */
const ADAPTER_OPTION_NAMES: readonly string[] = [
  ...ENGINE_OPTION_NAMES,
  "protocols",
  "origins",
  "upgrade",
  "onConnection",
  "keepHeaders",
];

/**
 * Validate the shared adapter options and fill in the defaults (once per server). Every
 * name in `options` must be a shared option or one of `own` (the adapter's own options,
 * which it validates itself): an unknown name is a `TypeError` that suggests the nearest
 * known one, so a misspelled option is never silently ignored.
 *
 * @param options What the user passed.
 * @param own The names of the adapter's own options.
 * @param refused Names refused with a reason: options this adapter cannot honour.
 * @returns The resolved options.
 * @throws {TypeError|RangeError} When an option is unknown or invalid, naming it and the
 *   value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveAdapterOptions } from "@websock/websock/engine";
 * const resolved = resolveAdapterOptions({ protocols: ["v1"], timeout: 5_000 });
 * assert.throws(() => resolveAdapterOptions({ timout: 5_000 } as never), {
 *   message: 'Unknown option "timout": did you mean "timeout"?',
 * });
 * ```
 */
export function resolveAdapterOptions<A, M>(
  options: AdapterOptions<A, M>,
  own: readonly string[] = [],
  refused: Readonly<Record<string, string>> = {},
): ResolvedAdapterOptions<A, M> {
  // Once per options object and caller (the same `own` and `refused`): a per-request
  // function (Deno's upgrade()) resolves them once; another adapter checks them anew.
  const memo = resolvedOnce.get(options);
  if (memo !== undefined && memo.own === own && memo.refused === refused) {
    return memo.resolved as ResolvedAdapterOptions<A, M>;
  }
  const resolved = resolveNow(options, own, refused);
  resolvedOnce.set(options, {
    own,
    refused,
    resolved: resolved as ResolvedAdapterOptions<unknown, unknown>,
  });
  return resolved;
}

const resolvedOnce = new WeakMap<object, {
  readonly own: readonly string[];
  readonly refused: Readonly<Record<string, string>>;
  readonly resolved: ResolvedAdapterOptions<unknown, unknown>;
}>();

function resolveNow<A, M>(
  options: AdapterOptions<A, M>,
  own: readonly string[],
  refused: Readonly<Record<string, string>>,
): ResolvedAdapterOptions<A, M> {
  checkOptionNames(
    options,
    own.length === 0 ? ADAPTER_OPTION_NAMES : [...ADAPTER_OPTION_NAMES, ...own],
    refused,
  );
  return {
    engine: resolveEngineOptions(options),
    protocols: checkProtocols(options.protocols ?? []),
    origins: checkOriginPolicy(options.origins ?? "same-origin"),
    upgrade: checkCallback("upgrade", options.upgrade),
    onConnection: checkCallback("onConnection", options.onConnection),
    keepHeaders: checkKeepHeaders(options.keepHeaders ?? false),
  };
}

/**
 * The request headers a connection keeps, per the `keepHeaders` option: none, the listed
 * ones (read with `get`, which does not copy the rest), or all of them.
 *
 * @param options The resolved adapter options.
 * @param headers The request's headers, read one name at a time.
 * @param all Makes a copy of every header, for `keepHeaders: true`.
 * @returns The headers, or `undefined` for none (see {@linkcode connectionInfo}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keptHeaders, resolveAdapterOptions } from "@websock/websock/engine";
 * const request = new Headers({ cookie: "a=1", "user-agent": "x" });
 * const options = resolveAdapterOptions({ keepHeaders: ["cookie"] });
 * const kept = keptHeaders(options, request, () => new Headers(request));
 * assert.deepEqual([...(kept ?? new Headers()).entries()], [["cookie", "a=1"]]);
 * ```
 */
export function keptHeaders(
  options: ResolvedAdapterOptions<unknown, unknown>,
  headers: HeaderReader,
  all: () => Headers,
): Headers | undefined {
  const keep = options.keepHeaders;
  if (keep === false) return undefined;
  if (keep === true) return all();
  const kept = new Headers();
  for (const name of keep) {
    const value = headers.get(name);
    if (value !== null) kept.set(name, value);
  }
  return kept;
}

// Connection info whose empty headers are only made when someone looks.
class Info implements ConnectionInfo {
  readonly url: string;
  readonly remoteAddr: RemoteAddr | null;
  readonly protocol: string;
  #headers: Headers | undefined;

  constructor(
    url: string,
    headers: Headers | undefined,
    remoteAddr: RemoteAddr | null,
    protocol: string,
  ) {
    this.url = url;
    this.#headers = headers;
    this.remoteAddr = remoteAddr;
    this.protocol = protocol;
  }

  get headers(): Headers {
    return this.#headers ??= new Headers();
  }
}

/**
 * A connection's info: `headers` from {@linkcode keptHeaders} (`undefined`: an empty
 * `Headers`, made on first use, so that a connection that keeps none pays nothing).
 *
 * @param url The upgrade request's URL.
 * @param headers The kept headers, or `undefined` for none.
 * @param remoteAddr The peer's address, or `null`.
 * @param protocol The negotiated subprotocol (`""` for none).
 * @returns The info.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectionInfo } from "@websock/websock/engine";
 * const info = connectionInfo("http://x/", undefined, null, "");
 * assert.equal(info.headers.get("cookie"), null);
 * ```
 */
export function connectionInfo(
  url: string,
  headers: Headers | undefined,
  remoteAddr: RemoteAddr | null,
  protocol: string,
): ConnectionInfo {
  return new Info(url, headers, remoteAddr, protocol);
}

/**
 * Hand a new connection to the `onConnection` option, if any. A throw is reported to
 * `onError` and does not stop the connection.
 *
 * @param options The resolved adapter options.
 * @param connection The new connection's handle.
 */
export function announceConnection<M>(
  options: ResolvedAdapterOptions<unknown, M>,
  connection: Connection<M>,
): void {
  if (options.onConnection === undefined) return;
  try {
    options.onConnection(connection);
  } catch (error) {
    try {
      options.engine.onError(error, { source: "upgrade", connection: connection as never });
    } catch {
      // The error hook must not break the connection.
    }
  }
}

/**
 * Check an upgrade request in order: RFC 6455 §4.2.1, the origin, the subprotocol.
 *
 * @param method The request method.
 * @param headers The request headers.
 * @param options The resolved adapter options.
 * @param httpVersion The request's HTTP version (`"1.1"`), where the server shows it.
 * @returns The negotiated subprotocol (`""` for none), or why the upgrade is refused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveAdapterOptions, vetUpgrade } from "@websock/websock/engine";
 * const verdict = vetUpgrade("GET", new Headers(), resolveAdapterOptions({}));
 * assert.ok(typeof verdict !== "string"); // not an upgrade: a rejection, not a protocol
 * assert.equal(verdict.status, 426);
 * ```
 */
export function vetUpgrade(
  method: string,
  headers: HeaderReader,
  options: ResolvedAdapterOptions<unknown, unknown>,
  httpVersion?: string,
): string | Rejection {
  const verdict = checkUpgrade(method, headers, httpVersion) ?? safeCheckOrigin(options, headers) ??
    negotiateProtocol(headers, options.protocols);
  if (typeof verdict !== "string") reportRefusal(options, verdict.status, verdict.reason);
  return verdict;
}

/**
 * Tell the `telemetry` option's `onUpgradeRefused` (if any) that an upgrade was refused.
 * {@linkcode vetUpgrade} and {@linkcode withUpgradeHook} do it for their refusals; an adapter
 * calls it for a refusal of its own (its server's upgrade failed). A throw there is ignored.
 *
 * @param options The resolved adapter options.
 * @param status The refusal's HTTP status.
 * @param reason Why, in plain words.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reportRefusal, resolveAdapterOptions } from "@websock/websock/engine";
 * const refused: number[] = [];
 * const options = resolveAdapterOptions({
 *   telemetry: { onUpgradeRefused: ({ status }) => void refused.push(status) },
 * });
 * reportRefusal(options, 400, "Invalid WebSocket upgrade");
 * assert.deepEqual(refused, [400]);
 * ```
 */
export function reportRefusal(
  options: ResolvedAdapterOptions<unknown, unknown>,
  status: number,
  reason: string,
): void {
  const telemetry = options.engine.telemetry;
  if (telemetry?.onUpgradeRefused === undefined) return;
  try {
    telemetry.onUpgradeRefused({ status, reason });
  } catch {
    // Telemetry must not change what happens.
  }
}

// An origin function that throws denies (and is reported): never a 500 for a client's Origin.
function safeCheckOrigin(
  options: ResolvedAdapterOptions<unknown, unknown>,
  headers: HeaderReader,
): Rejection | null {
  try {
    return checkOrigin(options.origins, headers);
  } catch (error) {
    try {
      options.engine.onError(error, { source: "upgrade" });
    } catch {
      // The error hook must not turn a refused upgrade into a crash.
    }
    return { status: 403, reason: "Origin check failed" };
  }
}

/**
 * A refusal as a `Response`: its status, a plain-text body and its headers.
 *
 * @param rejection Why the upgrade is refused.
 * @returns The response.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rejectionResponse } from "@websock/websock/engine";
 * assert.equal(rejectionResponse({ status: 403, reason: "Origin not allowed" }).status, 403);
 * ```
 */
export function rejectionResponse(rejection: Rejection): Response {
  return new Response(rejection.reason + "\n", {
    status: rejection.status,
    headers: { "content-type": "text/plain; charset=utf-8", ...rejection.headers },
  });
}

const INTERNAL_ERROR: Rejection = { status: 500, reason: "Internal Server Error" };

/**
 * Run the upgrade hook (if any) and continue: `open(arg, headers)` when it gives an argument
 * (`headers`: what it added for the 101, see {@linkcode extraResponseHeaders}),
 * `refuse(response)` when it gives a `Response`, or a 500 (reported to `onError`) when it
 * throws. Synchronous all the way when the hook is; a promise only when the hook returns one.
 *
 * @param options The resolved adapter options (hook and error hook).
 * @param request The request the hook sees.
 * @param info The connection info the hook sees.
 * @param open Continue the upgrade with the argument `init` receives.
 * @param refuse Answer with a response instead.
 * @returns What `open` or `refuse` returned, or a promise of it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveAdapterOptions, withUpgradeHook } from "@websock/websock/engine";
 * const options = resolveAdapterOptions({ upgrade: () => 42 });
 * const info = { url: "http://x/", headers: new Headers(), remoteAddr: null, protocol: "" };
 * const outcome = withUpgradeHook(
 *   options,
 *   new Request(info.url),
 *   info,
 *   (arg) => `open with ${arg}`,
 *   (response) => `refused with ${response.status}`,
 * );
 * assert.equal(outcome, "open with 42"); // a synchronous hook: decided at once
 * ```
 */
export function withUpgradeHook<A, R>(
  options: ResolvedAdapterOptions<A, unknown>,
  request: Request,
  info: ConnectionInfo,
  open: (arg: A | undefined, headers: [string, string][]) => R,
  refuse: (response: Response) => R,
): R | Promise<R> {
  const hook = options.upgrade;
  if (hook === undefined) return open(undefined, []);
  const response = { headers: new Headers() };
  const failed = (error: unknown): R => {
    try {
      options.engine.onError(error, { source: "upgrade" });
    } catch {
      // The error hook must not turn a refused upgrade into a crash.
    }
    reportRefusal(options, INTERNAL_ERROR.status, INTERNAL_ERROR.reason);
    return refuse(rejectionResponse(INTERNAL_ERROR));
  };
  let arg: A | Response | Promise<A | Response>;
  try {
    arg = hook(request, info, response);
  } catch (error) {
    return failed(error);
  }
  const next = (value: A | Response): R => {
    if (!(value instanceof Response)) return open(value, extraResponseHeaders(response.headers));
    reportRefusal(options, value.status, "Refused by the upgrade hook");
    return refuse(value);
  };
  return arg instanceof Promise ? arg.then(next, failed) : next(arg);
}
