// The server of bench/channels_bench.ts: `deno run -A --v8-flags=--expose-gc
// bench/channels_server.ts`. Listens on 127.0.0.1:0, prints `{"port": N}`, exits when stdin
// closes. Routes:
//   /socket/websocket   channels(): "room:*" joins; "ping" replies ok with its payload
//   /plain              a WebSock echo; with ?sub=1 its connection is on the pub/sub fastlane
//   GET /fan?mode=channels|fast&round=R&size=B   one broadcast of a B-byte payload to every
//                       joined channel (channels) or fastlane subscriber (fast)
//   GET /count          {"channels", "fast", "open"}: joined channels, fastlane subscribers, sockets
//   GET /stats          {"rss", "heap"} after a forced GC

import { ok, push, type WebSock } from "../mod.ts";
import { Registry, upgrade } from "../adapters/deno.ts";
import { channels, joined, reply } from "../channels/mod.ts";
import { PubSub } from "../pubsub/mod.ts";

const gc = (globalThis as { gc?: () => void }).gc;
const registry = new Registry();

const app = channels({
  "room:*": {
    join: (topic) => joined({ topic }),
    handleIn: (_event, payload, state) => reply("ok", payload, state),
  },
}, { heartbeatTimeout: 0 });

const fast = new PubSub<{ round: string; pad: string }>();
const encode = (message: unknown) => JSON.stringify(message);

const Plain = {
  init(sub: boolean, connection) {
    if (sub) fast.subscribe("fast", connection, { encode });
    return ok(null);
  },
  handleIn: (data, state) => push(data, state),
} satisfies WebSock<null, never, boolean>;

const options = { registry, timeout: 0, origins: "*" as const };

const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
  const url = new URL(request.url);
  switch (url.pathname) {
    case "/socket/websocket": {
      const arg = app.upgrade(request);
      if (arg instanceof Response) return arg;
      return upgrade(request, app, arg as Exclude<typeof arg, Promise<unknown>>, {
        ...options,
        protocols: ["phoenix"],
      });
    }
    case "/plain":
      return upgrade(request, Plain, url.searchParams.get("sub") === "1", options);
    case "/fan": {
      const size = Number(url.searchParams.get("size") ?? "100");
      const round = url.searchParams.get("round") ?? "r";
      const message = { round, pad: "x".repeat(Math.max(0, size - round.length - 21)) };
      const start = performance.now();
      const result = url.searchParams.get("mode") === "channels"
        ? app.broadcast("room:bench", "msg", message)
        : fast.publish("fast", message);
      return Response.json({ syncMs: performance.now() - start, ...result });
    }
    case "/count":
      return Response.json({
        channels: app.pubsub.subscribers("room:bench"),
        fast: fast.subscribers("fast"),
        open: registry.size,
      });
    case "/stats": {
      gc?.();
      gc?.();
      const memory = Deno.memoryUsage();
      return Response.json({ rss: memory.rss, heap: memory.heapUsed });
    }
    default:
      return new Response("Not found", { status: 404 });
  }
});

console.log(JSON.stringify({ port: server.addr.port }));
// Exit when the runner closes stdin.
for await (const _ of Deno.stdin.readable) { /* nothing is sent */ }
await registry.shutdown({ timeout: 2_000 });
await server.shutdown();
Deno.exit(0);
