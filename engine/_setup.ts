// What every adapter function of this package does first, and last: check the handler,
// resolve the options (names included), make the registry; and hand back a function (or an
// object) that also drains its connections.

import { checkHandler } from "./check_handler.ts";
import { resolveAdapterOptions, type ResolvedAdapterOptions } from "./adapter_options.ts";
import { Registry, type ShutdownOptions } from "./registry.ts";
import { showValue } from "./show_value.ts";
import type { WebSock } from "../websock.ts";

/** An adapter function's checked handler, resolved options and registry. */
export interface AdapterSetup {
  readonly handler: WebSock<unknown, unknown, unknown>;
  readonly options: ResolvedAdapterOptions<unknown, unknown>;
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
