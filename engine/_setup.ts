// What every adapter function of this package does first, and last: check the handler,
// resolve the options (names included), make the registry; and hand back a function (or an
// object) that also drains its connections. A function called once per request (Deno's
// upgrade()) is given its registry and 101 headers instead, and takes no upgrade hook.

import { checkHandler } from "./check_handler.ts";
import { extraResponseHeaders, resolveAdapterOptions } from "./adapter_options.ts";
import { Registry, type ShutdownOptions } from "./registry.ts";
import type { ConnectionSetup } from "./_accept.ts";
import { showValue } from "./show_value.ts";
import type { WebSock } from "../websock.ts";

/** An adapter function's checked handler, resolved options and registry. */
export interface AdapterSetup extends ConnectionSetup {
  readonly registry: Registry;
}

/**
 * Check the handler and the options of an adapter function (`where`, for the errors), and
 * make its registry.
 *
 * @throws {TypeError|RangeError} For a bad handler, an unknown or invalid option.
 */
export function setUp(
  handler: unknown,
  options: object,
  where: string,
  own: readonly string[] = [],
  refused: Readonly<Record<string, string>> = {},
): AdapterSetup {
  checkHandler(handler, where);
  return {
    handler: handler as WebSock<unknown, unknown, unknown>,
    options: resolveAdapterOptions(options, own, refused),
    registry: new Registry(),
  };
}

/** A per-request adapter function's checked handler, resolved options, registry and headers. */
export interface RequestSetup extends ConnectionSetup {
  /** The `headers` option, for the 101 (the handshake's own left out): read on accepting. */
  extraHeaders(): readonly [string, string][];
}

/** The options a per-request adapter function takes besides the shared ones. */
export interface RequestOptions {
  readonly registry?: Registry;
  readonly headers?: HeadersInit;
}

// A per-request function's own options (`info`: its server's, for the peer's address).
const REQUEST_OPTIONS = ["registry", "info", "headers"];

/**
 * Make the setup of a function that upgrades one request (`where`, for the errors): the
 * adapter's `refused` options, and the upgrade hook (the function takes init's argument
 * itself; the hook is `hookIn`'s). The returned function checks the handler and resolves the
 * options at each call, as the per-request function is called with each request's own options.
 */
export function requestSetUp(
  where: string,
  hookIn: string,
  refused: Readonly<Record<string, string>>,
): (handler: unknown, options: RequestOptions) => RequestSetup {
  const allRefused = {
    ...refused,
    upgrade: `${where} takes init's argument itself (the hook is ${hookIn}'s)`,
  };
  return (handler, options) => {
    checkHandler(handler, where);
    return {
      handler: handler as WebSock<unknown, unknown, unknown>,
      options: resolveAdapterOptions(options as object, REQUEST_OPTIONS, allRefused),
      registry: options.registry,
      extraHeaders: () =>
        options.headers === undefined ? [] : extraResponseHeaders(new Headers(options.headers)),
    };
  };
}

/** `target` with `shutdown()` (drain the registry's connections) and the `registry`. */
export function withDrain<T extends object>(
  target: T,
  registry: Registry,
): T & { shutdown(options?: ShutdownOptions): Promise<void>; readonly registry: Registry } {
  return Object.assign(target, {
    shutdown: (options?: ShutdownOptions) => registry.shutdown(options),
    registry,
  });
}

/**
 * Check a `perMessageDeflate` option: a boolean, or (where the server takes them) an object
 * of its options.
 *
 * @throws {TypeError} When it is neither.
 */
export function checkDeflate<T>(value: T | undefined, objects: boolean): T | false {
  if (value === undefined) return false;
  if (typeof value === "boolean") return value;
  if (objects && typeof value === "object" && value !== null && !Array.isArray(value)) return value;
  const expected = objects ? "a boolean or ws's options" : "a boolean";
  throw new TypeError(`Invalid option perMessageDeflate: ${showValue(value)} is not ${expected}`);
}
