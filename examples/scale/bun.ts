// One of N Bun server processes on one port, joined by Redis pub/sub (docs/scaling.md). Bun
// does not resolve the `npm:` import of the Redis backend, so bundle first:
//
//   deno bundle --platform node -o /tmp/scale-bun.mjs examples/scale/bun.ts
//   PORT=8000 REDIS_URL=redis://127.0.0.1:6379 bun /tmp/scale-bun.mjs   # × N
//
// `reusePort` (SO_REUSEPORT, Linux) lets every process bind the same port. Environment,
// output and control routes as examples/scale/deno.ts.

import process from "node:process";
import { websockServe } from "@websock/websock/bun";
import { PubSub } from "@websock/websock/pubsub";
import { RedisBackend } from "@websock/websock/pubsub-redis";
import { type Lane, room } from "./room.ts";

declare const Bun: {
  serve(options: Record<string, unknown>): { port: number; stop(force?: boolean): void };
  gc(force: boolean): void;
};

const env = (name: string, fallback: string) => process.env[name] ?? fallback;
const cluster = process.env.REDIS_CLUSTER;
const backend = new RedisBackend(
  cluster ? { cluster: cluster.split(",") } : { url: env("REDIS_URL", "redis://127.0.0.1:6379") },
);
const pubsub = new PubSub<string>({ backend, onError: (error) => console.error(error) });
const app = room(pubsub, { lane: env("LANE", "mail") as Lane, pid: process.pid });
const memory = () => {
  Bun.gc(true);
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heap: heapUsed };
};

const serve = websockServe(app.handler, {
  upgrade: (request) => app.upgrade(request),
  timeout: Number(env("TIMEOUT", "60000")), // keep-alive: ping after ~half of it
});
const server = Bun.serve({
  hostname: env("HOST", "127.0.0.1"),
  port: Number(env("PORT", "8000")),
  reusePort: true,
  ...serve,
});
const control = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: (request: Request) => app.control(new URL(request.url), memory),
});
console.log(JSON.stringify({ port: server.port, control: control.port, pid: process.pid }));

async function stop() {
  await serve.shutdown(); // 1001 to every connection, terminate for each
  server.stop();
  control.stop();
  await pubsub.close();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
