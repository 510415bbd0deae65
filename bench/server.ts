// One benchmark server: `deno run -A bench/server.ts <contestant>`. Listens on 127.0.0.1:0,
// prints `{"port": N}` on stdout, then serves:
//   ws://…/           an echo WebSocket (text and binary)
//   GET /stats        {"rss", "heap"} after a forced GC (run with --v8-flags=--expose-gc)
//   GET /broadcast?reps=N&size=B   N fan-outs of a B-byte text to every open connection;
//                     answers the server-side time of each in ms
//   GET /count        the number of open connections
// WEBSOCK_DIR (default: the repo) picks the WebSock sources, so a scratch copy can be measured.
//   GET /fanout?mode=M&round=R  one fan-out for bench/fanout.ts (see _echo.ts)
// Contestants: raw (Deno.upgradeWebSocket), websock (adapters/deno.ts), crossws, hono;
// websock-metrics (websock with a Metrics collector as its telemetry) and websock-timed (the
// same, timing every callback: `callbackDurations`).
// websock-fan: adapters/deno.ts with every connection on pub/sub (bench/fanout.ts).

import { createServer } from "node:http";
import { control, rawFan, rawFanOut, websockFan } from "./_echo.ts";
import type { Contestant as EchoContestant } from "./_echo.ts";
import crossws from "npm:crossws@0.4.17/adapters/deno";
import { Hono } from "npm:hono@4.13.19";
import { upgradeWebSocket } from "npm:hono@4.13.19/deno";

type Fetch = (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;

interface Contestant extends EchoContestant {
  fetch: Fetch;
}

const gc = (globalThis as { gc?: () => void }).gc;

function rawContestant(): Contestant {
  const sockets = new Set<WebSocket>();
  return {
    fetch(request) {
      const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 30 });
      socket.addEventListener("open", () => sockets.add(socket));
      socket.addEventListener("message", (event) => socket.send(event.data));
      socket.addEventListener("close", () => sockets.delete(socket));
      return response;
    },
    count: () => sockets.size,
    broadcast: rawFanOut(sockets),
    fanout: rawFan(sockets),
  };
}

// bench/fanout.ts: adapters/deno.ts with every connection on pub/sub (mailbox and fastlane).
async function websockFanContestant(dir?: string): Promise<Contestant> {
  const { websockHandler } = await import(`${websockDir(dir)}/adapters/deno.ts`);
  const fan = websockFan();
  return { ...fan, fetch: websockHandler(fan.Fan, { origins: "*", ...extraOptions() }) };
}

// The WebSock echo handler, its live connections, and a mailbox fan-out.
// deno-lint-ignore no-explicit-any
async function websockEcho(dir: string): Promise<{ Echo: any; fanOut: Contestant["broadcast"] }> {
  const { ok, push } = await import(`${dir}/mod.ts`);
  // deno-lint-ignore no-explicit-any
  const connections = new Set<any>();
  let pending = 0;
  let done: (() => void) | undefined;
  const Echo = {
    // deno-lint-ignore no-explicit-any
    init: (_arg: unknown, connection: any) => {
      connections.add(connection);
      return ok(connection);
    },
    handleIn: (data: string | Uint8Array, state: unknown) => push(data, state),
    handleInfo: (message: string, state: unknown) => {
      if (--pending === 0) done?.();
      return push(message, state);
    },
    terminate: (_reason: unknown, state: unknown) => {
      connections.delete(state);
    },
  };
  const fanOut = (message: string): Promise<number> => {
    const start = performance.now();
    const finished = new Promise<void>((resolve) => done = resolve);
    pending = connections.size;
    for (const connection of connections) connection.send(message);
    return finished.then(() => performance.now() - start);
  };
  return { Echo: Object.assign(Echo, { count: () => connections.size }), fanOut };
}

// WEBSOCK_DIR (or `websock=DIR` as the contestant) picks the sources, to measure a scratch copy.
const repo = new URL("..", import.meta.url).pathname;
const websockDir = (dir?: string): string => dir ?? Deno.env.get("WEBSOCK_DIR") ?? repo;
// WEBSOCK_OPTIONS (JSON) adds options, for experiments (e.g. {"timeout": 0}).
const extraOptions = (): Record<string, unknown> =>
  JSON.parse(Deno.env.get("WEBSOCK_OPTIONS") ?? "{}");

async function websockContestant(dir?: string): Promise<Contestant> {
  const { websockHandler } = await import(`${websockDir(dir)}/adapters/deno.ts`);
  const { Echo, fanOut } = await websockEcho(websockDir(dir));
  const handler = websockHandler(Echo, { origins: "*", ...extraOptions() });
  return { fetch: handler, count: Echo.count, broadcast: fanOut };
}

// websock with telemetry: a Metrics collector, optionally timing callbacks.
async function websockMetrics(dir: string | undefined, callbackDurations: boolean) {
  const { websockHandler } = await import(`${websockDir(dir)}/adapters/deno.ts`);
  const { Metrics } = await import(`${websockDir(dir)}/telemetry/mod.ts`);
  const { Echo, fanOut } = await websockEcho(websockDir(dir));
  const telemetry = new Metrics({ callbackDurations });
  const handler = websockHandler(Echo, { origins: "*", telemetry, ...extraOptions() });
  return { fetch: handler, count: Echo.count, broadcast: fanOut };
}

// adapters/node.ts on Deno's node:http; served by `serveNode` below, not by Deno.serve.
async function websockNode(dir?: string): Promise<Contestant & { upgrade: unknown }> {
  const { websockUpgrade } = await import(`${websockDir(dir)}/adapters/node.ts`);
  const { Echo, fanOut } = await websockEcho(websockDir(dir));
  const upgrade = websockUpgrade(Echo, { origins: "*", ...extraOptions() });
  return {
    fetch: () => new Response("Not here\n", { status: 404 }),
    count: Echo.count,
    broadcast: fanOut,
    upgrade,
  };
}

function crosswsContestant(): Contestant {
  // deno-lint-ignore no-explicit-any
  const peers = new Set<any>();
  const ws = crossws({
    hooks: {
      open: (peer) => void peers.add(peer),
      message: (peer, message) => void peer.send(message.rawData),
      close: (peer) => void peers.delete(peer),
    },
  });
  return {
    fetch: (request, info) => ws.handleUpgrade(request, info as never),
    count: () => peers.size,
    broadcast(message) {
      const start = performance.now();
      for (const peer of peers) peer.send(message);
      return performance.now() - start;
    },
  };
}

function honoContestant(): Contestant {
  // deno-lint-ignore no-explicit-any
  const sockets = new Set<any>();
  const app = new Hono();
  app.get(
    "/",
    upgradeWebSocket(() => ({
      onOpen: (_event, ws) => void sockets.add(ws),
      onMessage: (event, ws) => ws.send(event.data as string | ArrayBuffer),
      onClose: (_event, ws) => void sockets.delete(ws),
    })),
  );
  return {
    fetch: (request, info) => app.fetch(request, info),
    count: () => sockets.size,
    broadcast(message) {
      const start = performance.now();
      for (const ws of sockets) ws.send(message);
      return performance.now() - start;
    },
  };
}

// A contestant is a name, optionally `=DIR` for WebSock's sources. Hook for more: add a
// function here (and, for another runtime, a server script of its own; see README.md).
const [name, dir] = Deno.args[0].split("=");
const contestants: Record<string, (dir?: string) => Contestant | Promise<Contestant>> = {
  raw: rawContestant,
  websock: websockContestant,
  "websock-metrics": (dir) => websockMetrics(dir, false),
  "websock-timed": (dir) => websockMetrics(dir, true),
  "websock-fan": websockFanContestant,
  "websock-node": websockNode,
  crossws: crosswsContestant,
  hono: honoContestant,
};
if (!(name in contestants)) throw new Error(`Unknown contestant ${name}`);
const contestant = await contestants[name](dir);

function memory(): { rss: number; heap: number } {
  gc?.();
  gc?.();
  const usage = Deno.memoryUsage();
  return { rss: usage.rss, heap: usage.heapUsed };
}

async function answer(url: URL): Promise<Response> {
  const { status, body } = await control(url, contestant, memory);
  return new Response(body, { status, headers: { "content-type": "application/json" } });
}

async function serveNode(upgrade: unknown): Promise<{ shutdown(): Promise<void> }> {
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const { status, body } = await control(url, contestant, memory);
    response.writeHead(status, { "content-type": "application/json" });
    response.end(body);
  });
  // deno-lint-ignore no-explicit-any
  server.on("upgrade", upgrade as any);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  console.log(JSON.stringify({ port, pid: Deno.pid }));
  return { shutdown: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const upgradeListener = (contestant as { upgrade?: unknown }).upgrade;
const server = upgradeListener !== undefined ? await serveNode(upgradeListener) : Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen({ port }) {
    console.log(JSON.stringify({ port, pid: Deno.pid }));
  },
}, (request, info) => {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return answer(new URL(request.url));
  }
  return contestant.fetch(request, info);
});

// Exit when the runner closes our stdin (or after an hour at most), or on Ctrl-C: an exit, so
// that `--cpu-prof` writes its profile (a signal's default would not).
Deno.addSignalListener("SIGINT", () => Deno.exit(0));
const guard = setTimeout(() => Deno.exit(0), 3_600_000);
for await (const _ of Deno.stdin.readable) {
  // Nothing is ever sent; the loop ends when the runner goes away.
}
clearTimeout(guard);
await Promise.race([server.shutdown(), new Promise((resolve) => setTimeout(resolve, 1000))]);
Deno.exit(0);
