// An upgrade's outcome, carried out the same way on every adapter: prepare it, then accept
// (an engine made from the prepared upgrade and the adapter's setup) or refuse (a 4xx, told to
// telemetry when the adapter's own server refused it).

import type { WebSock } from "../websock.ts";
import {
  type PreparedUpgrade,
  prepareUpgrade,
  type UpgradeRequest,
  whenReady,
} from "./prepare_upgrade.ts";
import {
  rejectionResponse,
  reportRefusal,
  type ResolvedAdapterOptions,
} from "./adapter_options.ts";
import type { EngineInit } from "./transport.ts";
import type { Registry } from "./registry.ts";

/** A prepared upgrade that is accepted: init's argument, the info and the 101's headers. */
export type AcceptedUpgrade = Extract<PreparedUpgrade<unknown>, { readonly accept: true }>;

/** What an adapter's connections are made with: the handler, options and (maybe) a registry. */
export interface ConnectionSetup {
  readonly handler: WebSock<unknown, unknown, unknown>;
  readonly options: ResolvedAdapterOptions<unknown, unknown>;
  readonly registry?: Registry;
}

/**
 * Prepare an upgrade ({@linkcode prepareUpgrade}), then `accept` or `refuse` it: at once, or
 * once the upgrade hook's promise settled.
 */
export function performUpgrade<R>(
  options: ResolvedAdapterOptions<unknown, unknown>,
  request: UpgradeRequest,
  accept: (upgrade: AcceptedUpgrade) => R,
  refuse: (response: Response) => R,
): R | Promise<R> {
  return whenReady(
    prepareUpgrade(options, request),
    (prepared) => prepared.accept ? accept(prepared) : refuse(prepared.response),
  );
}

/** What the engine of an accepted upgrade is made with. */
export function engineInit(upgrade: AcceptedUpgrade, setup: ConnectionSetup): EngineInit<unknown> {
  const { arg, info } = upgrade;
  return { arg, info, options: setup.options.engine, registry: setup.registry };
}

/**
 * Refuse an upgrade that the adapter's server itself could not complete, after the request
 * was vetted: 400 with the reason, told to telemetry.
 */
export function refuseUpgrade(
  options: ResolvedAdapterOptions<unknown, unknown>,
  reason: string,
): Response {
  reportRefusal(options, 400, reason);
  return rejectionResponse({ status: 400, reason });
}
