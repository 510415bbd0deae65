// One of N Deno server processes on one port, joined by Redis pub/sub (docs/scaling.md):
//
//   PORT=8000 REDIS_URL=redis://127.0.0.1:6379 \
//     deno run --unstable-net --allow-net --allow-env examples/scale/deno.ts   # × N
//
// `reusePort` (SO_REUSEPORT, Linux) lets every process bind the same port and the kernel
// spreads new connections over them; Deno 2.9 needs --unstable-net for it. Environment:
// PORT (default 8000), HOST (default 127.0.0.1), REDIS_URL (default redis://127.0.0.1:6379) or
// REDIS_CLUSTER (comma-separated node URLs: sharded pub/sub), LANE ("mail" or "fast"),
// TIMEOUT (the engine's keep-alive timeout in ms, default 60000).
// Prints one JSON line {"port", "control", "pid"} once listening: `control` is this
// process's own port for the routes of room.ts (/stats, /lane, /publish). SIGTERM (or
// SIGINT) closes the connections with 1001 and exits.

import { websockHandler } from "@websock/websock/deno";
import { PubSub } from "@websock/websock/pubsub";
import { RedisBackend } from "@websock/websock/pubsub-redis";
import { type Lane, room } from "./room.ts";

const env = (name: string, fallback: string) => Deno.env.get(name) ?? fallback;
const cluster = Deno.env.get("REDIS_CLUSTER");
const backend = new RedisBackend(
  cluster ? { cluster: cluster.split(",") } : { url: env("REDIS_URL", "redis://127.0.0.1:6379") },
);
const pubsub = new PubSub<string>({ backend, onError: (error) => console.error(error) });
const app = room(pubsub, { lane: env("LANE", "mail") as Lane, pid: Deno.pid });
const gc = (globalThis as { gc?: () => void }).gc; // with --v8-flags=--expose-gc
const memory = () => {
  gc?.();
  const { rss, heapUsed } = Deno.memoryUsage();
  return { rss, heap: heapUsed };
};

const handler = websockHandler(app.handler, {
  upgrade: (request) => app.upgrade(request),
  timeout: Number(env("TIMEOUT", "60000")), // keep-alive: ping after ~half of it
});
const server = Deno.serve({
  hostname: env("HOST", "127.0.0.1"),
  port: Number(env("PORT", "8000")),
  reusePort: true,
  onListen() {},
}, handler);
const control = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  (request) => app.control(new URL(request.url), memory),
);
console.log(JSON.stringify({ port: server.addr.port, control: control.addr.port, pid: Deno.pid }));

async function stop() {
  await handler.shutdown(); // 1001 to every connection, terminate for each
  await Promise.all([server.shutdown(), control.shutdown()]);
  await pubsub.close();
  Deno.exit(0);
}
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
