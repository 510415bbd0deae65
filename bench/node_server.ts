// The Node benchmark server, bundled by bench/run.ts (`deno bundle --platform node`) and run by
// real Node: `node --expose-gc server.mjs <contestant>`. Listens on 127.0.0.1:0, prints
// `{"port", "pid"}`, serves an echo WebSocket on every upgrade and the control routes of
// bench/_echo.ts; exits when its stdin closes. Contestants: `node-raw` (npm:ws, no WebSock)
// and `websock-node-real` (adapters/node.ts); `websock-node-fan` (pub/sub, bench/fanout.ts). Both use the same bundled ws, which loads the
// `bufferutil` add-on when Node finds it (bench/run.ts puts the bundle next to node_modules).

import { createServer, type IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Buffer } from "node:buffer";
import process from "node:process";
import { createRequire } from "node:module";
// @ts-types="npm:@types/ws@^8"
import { type WebSocket, WebSocketServer } from "npm:ws@^8";
import { websockUpgrade } from "../adapters/node.ts";
import { type Contestant, control, rawFan, rawFanOut, websockEcho, websockFan } from "./_echo.ts";

type Upgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

function nodeRaw(): Contestant & { upgrade: Upgrade } {
  const sockets = new Set<WebSocket>();
  const server = new WebSocketServer({ noServer: true, clientTracking: false });
  return {
    upgrade(request, socket, head) {
      server.handleUpgrade(request, socket, head, (ws) => {
        sockets.add(ws);
        ws.on("message", (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
        ws.on("close", () => sockets.delete(ws));
      });
    },
    count: () => sockets.size,
    broadcast: rawFanOut(sockets),
    fanout: rawFan(sockets),
  };
}

function websockNodeFan(): Contestant & { upgrade: Upgrade } {
  const fan = websockFan();
  return { ...fan, upgrade: websockUpgrade(fan.Fan, { origins: "*", timeout: 300_000 }) };
}

function websockNodeReal(): Contestant & { upgrade: Upgrade } {
  const echo = websockEcho();
  return { ...echo, upgrade: websockUpgrade(echo.Echo, { origins: "*" }) };
}

const name = process.argv[2];
const contestants: Record<string, () => Contestant & { upgrade: Upgrade }> = {
  "node-raw": nodeRaw,
  "websock-node-real": websockNodeReal,
  "websock-node-fan": websockNodeFan,
};
if (!(name in contestants)) throw new Error(`Unknown contestant ${name}`);
const contestant = contestants[name]();
const gc = (globalThis as { gc?: () => void }).gc;
const memory = () => {
  gc?.();
  gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heap: heapUsed };
};

// Whether ws finds the add-on (it resolves it from the bundle's folder, as this does).
let bufferutil = false;
try {
  createRequire(import.meta.url).resolve("bufferutil");
  bufferutil = process.env.WS_NO_BUFFER_UTIL === undefined;
} catch { /* not installed */ }

const server = createServer(async (request, response) => {
  const { status, body } = await control(
    new URL(request.url ?? "/", "http://127.0.0.1"),
    contestant,
    memory,
  );
  response.writeHead(status, { "content-type": "application/json" }).end(body);
});
server.on("upgrade", contestant.upgrade);
server.listen(0, "127.0.0.1", () => {
  const address = server.address() as { port: number };
  console.log(JSON.stringify({ port: address.port, pid: process.pid, bufferutil }));
});

// Exit when the runner closes our stdin (or after an hour at most).
setTimeout(() => process.exit(0), 3_600_000).unref();
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
