// The Bun benchmark server: `bun bench/bun_server.ts <contestant>`. Listens on 127.0.0.1:0,
// prints `{"port", "pid"}`, serves an echo WebSocket on every upgrade and the control routes of
// bench/_echo.ts; exits when its stdin closes. Contestants: `bun-raw` (Bun.serve's own
// websocket handlers, no WebSock) and `websock-bun` (adapters/bun.ts).

import process from "node:process";
import { type BunServer, type BunWebSocket, websockServe } from "../adapters/bun.ts";
import {
  type Contestant,
  control,
  rawFanOut,
  timeFanOut,
  websockEcho,
  websockFan,
} from "./_echo.ts";

declare const Bun: {
  serve(options: Record<string, unknown>): { port: number };
  gc(force: boolean): void;
};

type Fetch = (request: Request, server: BunServer) => Response | undefined | Promise<unknown>;
type Options = Record<string, unknown> & { fetch: Fetch };

const memory = () => {
  Bun.gc(true);
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heap: heapUsed };
};

async function answer(request: Request, contestant: Contestant): Promise<Response> {
  const { status, body } = await control(new URL(request.url), contestant, memory);
  return new Response(body, { status, headers: { "content-type": "application/json" } });
}

function bunRaw(): Options {
  const sockets = new Set<BunWebSocket>();
  let server: BunServer | undefined;
  const contestant: Contestant = {
    count: () => sockets.size,
    broadcast: rawFanOut(sockets),
    // bench/fanout.ts: "raw" is Bun's native topics (every socket subscribes to "all"),
    // "loop" a JS loop of send.
    fanout: (mode, message) =>
      timeFanOut(() => {
        if (mode === "loop") { for (const ws of sockets) ws.send(message); }
        else server!.publish("all", message, false);
      }),
  };
  return {
    fetch(request, s) {
      server = s;
      if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        return answer(request, contestant);
      }
      return server.upgrade(request, { data: { socket: null } })
        ? undefined
        : new Response("Upgrade failed\n", { status: 400 });
    },
    websocket: {
      open: (ws: BunWebSocket) => void (sockets.add(ws), ws.subscribe("all")),
      message: (ws: BunWebSocket, message: string | Uint8Array) => void ws.send(message),
      close: (ws: BunWebSocket) => void sockets.delete(ws),
    },
  };
}

function websockBun(): Options {
  const echo = websockEcho();
  return {
    ...websockServe(echo.Echo, { origins: "*", fallback: (request) => answer(request, echo) }),
  };
}

const name = process.argv[2];
function websockBunFan(): Options {
  const fan = websockFan();
  return {
    ...websockServe(fan.Fan, {
      origins: "*",
      timeout: 300_000,
      fallback: (request) => answer(request, fan),
    }),
  };
}

const contestants: Record<string, () => Options> = {
  "bun-raw": bunRaw,
  "websock-bun": websockBun,
  "websock-bun-fan": websockBunFan,
};
if (!(name in contestants)) throw new Error(`Unknown contestant ${name}`);
const server = Bun.serve({ hostname: "127.0.0.1", port: 0, ...contestants[name]() });
console.log(JSON.stringify({ port: server.port, pid: process.pid }));

// Exit when the runner closes our stdin (or after an hour at most).
setTimeout(() => process.exit(0), 3_600_000).unref();
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
