// The HTTP side of a WebSocket upgrade (RFC 6455 §4.2.1): request validation, the origin
// check and subprotocol negotiation, the same for every adapter.

/** Read access to request headers: a `Headers` object, or a wrapper around another shape. */
export interface HeaderReader {
  /** The header's value (several joined with ", "), or `null` when it is absent. */
  get(name: string): string | null;
}

/** Why an upgrade is refused: the status, a plain-text reason and extra response headers. */
export interface Rejection {
  /** The HTTP status, always 4xx. */
  readonly status: number;
  /** A plain-text reason, sent as the body. */
  readonly reason: string;
  /** Headers to add to the response. */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Which origins may open a connection, checked against the `Origin` header that browsers
 * send (requests without one, from non-browser clients, pass unless a function says no):
 *
 * - `"same-origin"`: the origin's host must equal the `Host` header.
 * - `"*"`: any origin.
 * - a list: the origin must be one of them (`"https://example.com"`).
 * - a function: told the origin (`null` when absent) and the headers, returns whether to allow.
 */
export type OriginPolicy =
  | "same-origin"
  | "*"
  | readonly string[]
  | ((origin: string | null, headers: HeaderReader) => boolean);

/** The answer to a request that is not a WebSocket upgrade: 426 with `Upgrade: websocket`. */
export const NOT_AN_UPGRADE: Rejection = {
  status: 426,
  reason: "Expected a WebSocket upgrade (Upgrade: websocket)",
  headers: { upgrade: "websocket", connection: "Upgrade" },
};

const KEY = /^[A-Za-z0-9+/]{22}==$/;
const VERSION = /^(\d+)\.(\d+)$/;

// RFC 6455 §4.2.1: "An HTTP/1.1 or higher GET request" (versions are "major.minor").
function atLeastHttp11(version: string): boolean {
  const match = VERSION.exec(version);
  if (match === null) return false;
  const major = Number(match[1]);
  return major > 1 || (major === 1 && Number(match[2]) >= 1);
}

function hasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  for (const part of value.split(",")) {
    if (part.trim().toLowerCase() === token) return true;
  }
  return false;
}

/**
 * Whether a request asks for a WebSocket upgrade (its `Upgrade` header names `websocket`).
 *
 * @param headers The request headers.
 * @returns Whether it does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isWebSocketUpgrade } from "@websock/websock/engine";
 * assert.equal(isWebSocketUpgrade(new Headers({ upgrade: "websocket" })), true);
 * ```
 */
export function isWebSocketUpgrade(headers: HeaderReader): boolean {
  return hasToken(headers.get("upgrade"), "websocket");
}

/**
 * Check an upgrade request against RFC 6455 §4.2.1.
 *
 * @param method The request method.
 * @param headers The request headers.
 * @param httpVersion The request's HTTP version (`"1.1"`), where the server shows it (Node
 *   does; Deno's and Bun's `Request` do not, so they cannot refuse HTTP/1.0).
 * @returns `null` when the request is a valid upgrade, otherwise why not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkUpgrade } from "@websock/websock/engine";
 * const rejection = checkUpgrade("POST", new Headers());
 * assert.equal(rejection?.status, 405);
 * ```
 */
export function checkUpgrade(
  method: string,
  headers: HeaderReader,
  httpVersion?: string,
): Rejection | null {
  if (method !== "GET") {
    return {
      status: 405,
      reason: `WebSocket upgrade requires GET, not ${method}`,
      headers: { allow: "GET" },
    };
  }
  if (!isWebSocketUpgrade(headers)) return NOT_AN_UPGRADE;
  if (httpVersion !== undefined && !atLeastHttp11(httpVersion)) {
    return {
      status: 400,
      reason: `WebSocket upgrade requires HTTP/1.1 or later, not HTTP/${httpVersion}`,
    };
  }
  if (!hasToken(headers.get("connection"), "upgrade")) {
    return { status: 400, reason: "Connection header must include the upgrade token" };
  }
  if (!headers.get("host")) {
    return { status: 400, reason: "Missing Host header" };
  }
  const version = headers.get("sec-websocket-version");
  if (version !== "13") {
    return {
      status: 426,
      reason: version === null
        ? "Missing Sec-WebSocket-Version; this server speaks version 13"
        : `Unsupported Sec-WebSocket-Version ${version}; this server speaks version 13`,
      headers: { "sec-websocket-version": "13" },
    };
  }
  const key = headers.get("sec-websocket-key");
  if (key === null || !KEY.test(key)) {
    return { status: 400, reason: "Sec-WebSocket-Key must be 16 bytes in base64" };
  }
  return null;
}

function sameOrigin(origin: string, host: string | null): boolean {
  if (host === null) return false;
  try {
    const url = new URL(origin);
    return url.host === host.toLowerCase() || url.host === new URL(`${url.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

/**
 * Check a request's `Origin` header against a policy (a defence against cross-site
 * WebSocket hijacking).
 *
 * @param policy Which origins may connect.
 * @param headers The request headers.
 * @returns `null` when the origin is allowed, otherwise a 403 rejection.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkOrigin } from "@websock/websock/engine";
 * const headers = new Headers({ host: "example.com", origin: "https://evil.example" });
 * assert.equal(checkOrigin("same-origin", headers)?.status, 403);
 * ```
 */
export function checkOrigin(policy: OriginPolicy, headers: HeaderReader): Rejection | null {
  const origin = headers.get("origin");
  let allowed: boolean;
  if (typeof policy === "function") allowed = policy(origin, headers);
  else if (origin === null || policy === "*") allowed = true;
  else if (policy === "same-origin") allowed = sameOrigin(origin, headers.get("host"));
  else allowed = policy.includes(origin.toLowerCase());
  return allowed ? null : { status: 403, reason: `Origin ${origin} is not allowed` };
}

/**
 * Pick a subprotocol: the first of `supported` (the server's preference order) that the
 * client offered in `Sec-WebSocket-Protocol` (commas, with or without spaces).
 *
 * @param headers The request headers.
 * @param supported The server's subprotocols, preferred first.
 * @returns The chosen subprotocol; `""` when the server has none or the client offered none;
 *   a 400 rejection when both have some and none match.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { negotiateProtocol } from "@websock/websock/engine";
 * assert.equal(negotiateProtocol(new Headers({ "sec-websocket-protocol": "a,b" }), ["b", "a"]), "b");
 * ```
 */
export function negotiateProtocol(
  headers: HeaderReader,
  supported: readonly string[],
): string | Rejection {
  const header = headers.get("sec-websocket-protocol");
  if (supported.length === 0 || header === null) return "";
  const offered = header.split(",").map((p) => p.trim()).filter((p) => p !== "");
  if (offered.length === 0) return "";
  for (const protocol of supported) {
    if (offered.includes(protocol)) return protocol;
  }
  return {
    status: 400,
    reason: `No supported subprotocol in ${header}; this server speaks ${supported.join(", ")}`,
  };
}
