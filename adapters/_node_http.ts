// HTTP on a Node server for the Node adapter: the request as the engine reads it, whole
// responses written on the raw socket of an upgrade that is refused, and serve()'s server.

import { type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { checkUpgrade, type HeaderReader, type UpgradeRequest } from "../engine/mod.ts";
import { NOT_AN_UPGRADE } from "../engine/_kit.ts";

/** The request's headers, read one name at a time (repeated ones joined with ", "). */
export function headerReader(request: IncomingMessage): HeaderReader {
  return {
    get(name) {
      const value = request.headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
    },
  };
}

/** A copy of the request's headers. */
export function toHeaders(request: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}

/** The request as prepareUpgrade() reads it. */
export function upgradeRequest(request: IncomingMessage): UpgradeRequest {
  const headers = headerReader(request);
  const url = `http://${headers.get("host")}${request.url ?? "/"}`;
  const { remoteAddress, remotePort } = request.socket;
  return {
    method: request.method ?? "",
    url,
    headers,
    httpVersion: request.httpVersion,
    remoteAddr: remoteAddress === undefined
      ? null
      : { hostname: remoteAddress, port: remotePort ?? 0 },
    allHeaders: () => toHeaders(request),
    request: () => new Request(url, { headers: toHeaders(request) }),
  };
}

// Write a whole HTTP/1.1 response on the raw socket and close it.
function writeResponse(
  socket: Duplex,
  status: number,
  headers: Record<string, string>,
  body: string,
): void {
  if (!socket.writable) return void socket.destroy();
  const bytes = new TextEncoder().encode(body);
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  lines.push(`content-length: ${bytes.byteLength}`, "connection: close", "", "");
  socket.end(lines.join("\r\n") + new TextDecoder().decode(bytes));
}

// The raw socket's error listener until ws takes over (it stays for the connection's life).
// Not a closure: one made in the upgrade listener would keep that call's context, and so the
// request and its head buffer, alive as long as the connection (about 1.5 KiB each).
export function destroyOnError(this: Duplex): void {
  this.destroy();
}

/** Write `response` (a refusal) on the raw socket and close it. */
export async function writeRefusal(socket: Duplex, response: Response): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => headers[name] = value);
  delete headers["content-length"];
  writeResponse(socket, response.status, headers, await response.text());
}

/** serve()'s answer to a request that is not an upgrade: 426 (or 400 for a broken one). */
export function answerNotAnUpgrade(request: IncomingMessage, response: ServerResponse): void {
  const rejection = checkUpgrade(request.method ?? "", headerReader(request)) ?? NOT_AN_UPGRADE;
  response.writeHead(rejection.status, {
    "content-type": "text/plain; charset=utf-8",
    ...rejection.headers,
  }).end(rejection.reason + "\n");
}

/** Listen; resolves with the bound address. */
export function listen(
  server: Server,
  port: number,
  hostname: string,
): Promise<{ hostname: string; port: number }> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => {
      const address = server.address();
      if (address === null || typeof address === "string") return reject(new Error("No address"));
      resolve({ hostname: address.address, port: address.port });
    });
  });
}
