// N Node worker processes on one port, joined by Redis pub/sub (docs/scaling.md). Node 20 has
// no `reusePort` (Node 22.12/23.1 add it to `listen`), so this uses `node:cluster`: the primary
// holds the port and hands each new connection to a worker (round-robin); a worker that dies
// takes only its own connections with it. Bundle first (Node does not resolve `npm:` imports):
//
//   deno bundle --platform node -o /tmp/scale-node.mjs examples/scale/node.ts
//   WORKERS=4 PORT=8000 REDIS_URL=redis://127.0.0.1:6379 node /tmp/scale-node.mjs
//
// Environment, output (one line per worker) and control routes as examples/scale/deno.ts;
// WORKERS defaults to the number of cores. A worker that exits is not replaced.

import cluster from "node:cluster";
import { createServer } from "node:http";
import { availableParallelism } from "node:os";
import process from "node:process";
import { serve } from "@websock/websock/node";
import { PubSub } from "@websock/websock/pubsub";
import { RedisBackend } from "@websock/websock/pubsub-redis";
import { type Lane, room } from "./room.ts";

const env = (name: string, fallback: string) => process.env[name] ?? fallback;

if (cluster.isPrimary) {
  const workers = Number(env("WORKERS", String(availableParallelism())));
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on("exit", (worker, code, signal) => {
    console.error(`worker ${worker.process.pid} exited (${signal ?? code})`);
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  });
  const stop = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill("SIGTERM");
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
} else {
  const redisCluster = process.env.REDIS_CLUSTER;
  const backend = new RedisBackend(
    redisCluster
      ? { cluster: redisCluster.split(",") }
      : { url: env("REDIS_URL", "redis://127.0.0.1:6379") },
  );
  const pubsub = new PubSub<string>({ backend, onError: (error) => console.error(error) });
  const app = room(pubsub, { lane: env("LANE", "mail") as Lane, pid: process.pid });
  const gc = (globalThis as { gc?: () => void }).gc; // with node --expose-gc
  const memory = () => {
    gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    return { rss, heap: heapUsed };
  };
  const server = serve(app.handler, {
    hostname: env("HOST", "127.0.0.1"),
    port: Number(env("PORT", "8000")),
    upgrade: (request) => app.upgrade(request),
  });
  // This worker's own control port: `exclusive`, or the cluster would share it too.
  const control = createServer(async (request, response) => {
    const answer = app.control(new URL(request.url ?? "/", "http://127.0.0.1"), memory);
    response.writeHead(answer.status, Object.fromEntries(answer.headers));
    response.end(await answer.text());
  });
  control.listen({ host: "127.0.0.1", port: 0, exclusive: true }, async () => {
    const { port } = await server.listening;
    const address = control.address() as { port: number };
    console.log(JSON.stringify({ port, control: address.port, pid: process.pid }));
  });
  const stop = async () => {
    await server.shutdown();
    control.close();
    await pubsub.close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
