// Validation of option values, shared by the engine and the adapters of this package.

import type { OriginPolicy } from "./handshake.ts";
import type { Telemetry } from "./telemetry.ts";
import { showValue } from "./show_value.ts";

/**
 * Validate an origin policy option.
 *
 * @throws {TypeError} When it is not a policy.
 */
export function checkOriginPolicy(policy: unknown): OriginPolicy {
  if (
    policy === "same-origin" || policy === "*" || typeof policy === "function" ||
    (Array.isArray(policy) && policy.every((o) => typeof o === "string"))
  ) {
    return Array.isArray(policy)
      ? policy.map((o: string) => o.toLowerCase())
      : policy as OriginPolicy;
  }
  throw new TypeError(
    `Invalid option origins: ${
      showValue(policy)
    } is not "same-origin", "*", a list of origins or a function`,
  );
}

/**
 * Validate a subprotocol list option.
 *
 * @throws {TypeError} When it is not a list of non-empty strings.
 */
export function checkProtocols(protocols: unknown): readonly string[] {
  if (
    Array.isArray(protocols) &&
    protocols.every((p) => typeof p === "string" && /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(p))
  ) {
    return protocols;
  }
  throw new TypeError(`Invalid option protocols: ${showValue(protocols)} is not a list of tokens`);
}

const TELEMETRY_HOOKS = [
  "onConnectionStart",
  "onConnectionStop",
  "onUpgradeRefused",
  "onCallbackError",
  "onMailboxDrop",
  "onSlowPeer",
  "onCallbackDuration",
] as const;

/**
 * Validate the telemetry option: an object whose hooks, where present, are functions.
 *
 * @throws {TypeError} When it is not.
 */
export function checkTelemetry(telemetry: Telemetry | undefined): Telemetry | undefined {
  if (telemetry === undefined) return undefined;
  if (telemetry === null || typeof telemetry !== "object") {
    throw new TypeError(`Invalid option telemetry: ${showValue(telemetry)} is not an object`);
  }
  for (const hook of TELEMETRY_HOOKS) {
    const value = telemetry[hook];
    if (value !== undefined && typeof value !== "function") {
      throw new TypeError(
        `Invalid option telemetry: ${hook} ${showValue(value)} is not a function`,
      );
    }
  }
  return telemetry;
}

/**
 * Validate the keepHeaders option.
 *
 * @throws {TypeError} When it is neither a boolean nor a list of header names.
 */
export function checkKeepHeaders(keep: unknown): boolean | readonly string[] {
  if (typeof keep === "boolean") return keep;
  if (Array.isArray(keep) && keep.every((name) => typeof name === "string")) {
    return keep.map((name: string) => name.toLowerCase());
  }
  throw new TypeError(
    `Invalid option keepHeaders: ${showValue(keep)} is not a boolean or a list of header names`,
  );
}
