// What the adapters on web `Request`s and `Response`s (Deno's, Bun's) do the same way: answer
// a request that is not an upgrade, prepare and carry out one that is, and put the
// negotiated subprotocol and the hook's headers on the 101.

import type { RemoteAddr } from "../websock.ts";
import { isWebSocketUpgrade, NOT_AN_UPGRADE } from "./handshake.ts";
import { upgradeRequestOf } from "./prepare_upgrade.ts";
import { rejectionResponse, type ResolvedAdapterOptions } from "./adapter_options.ts";
import { type AcceptedUpgrade, performUpgrade } from "./_accept.ts";

/** How an adapter on web requests serves them; `C` is what its server passes beside each. */
export interface WebUpgrades<C, R> {
  readonly options: ResolvedAdapterOptions<unknown, unknown>;
  /** Answers requests that are not upgrades (426 without one). */
  fallback?(request: Request, context: C): Response | Promise<Response>;
  /** The peer's address. */
  remoteAddr(request: Request, context: C): RemoteAddr | null;
  /** Upgrade for real: the 101 (or the server's own answer, `R`), or a refusal. */
  accept(request: Request, context: C, upgrade: AcceptedUpgrade): R | Response;
}

const asIs = (response: Response): Response => response;

/**
 * The function that serves each request: the fallback (or 426) for a request that is not an
 * upgrade, a 4xx for a refused one, `accept`'s answer for the others.
 */
export function webUpgrades<C, R>(
  web: WebUpgrades<C, R>,
): (request: Request, context: C) => R | Response | Promise<R | Response> {
  const { fallback } = web; // called as the user's function it is, without `this`
  return (request, context) => {
    if (!isWebSocketUpgrade(request.headers)) {
      return fallback ? fallback(request, context) : rejectionResponse(NOT_AN_UPGRADE);
    }
    const accept = (upgrade: AcceptedUpgrade) => web.accept(request, context, upgrade);
    return upgradeWebRequest(web.options, request, web.remoteAddr(request, context), accept);
  };
}

/** Prepare the upgrade of a web request, then `accept` it or answer with the refusal. */
export function upgradeWebRequest<R>(
  options: ResolvedAdapterOptions<unknown, unknown>,
  request: Request,
  remoteAddr: RemoteAddr | null,
  accept: (upgrade: AcceptedUpgrade) => R | Response,
): R | Response | Promise<R | Response> {
  return performUpgrade(options, upgradeRequestOf(request, remoteAddr), accept, asIs);
}

/** `headers` (a 101's) with the negotiated subprotocol and the hook's extra headers. */
export function upgradeHeaders(
  headers: Headers,
  upgrade: Pick<AcceptedUpgrade, "info" | "headers">,
): Headers {
  if (upgrade.info.protocol !== "") headers.set("sec-websocket-protocol", upgrade.info.protocol);
  for (const [name, value] of upgrade.headers) headers.append(name, value);
  return headers;
}
