// The chat demo: `deno task start`, then open http://127.0.0.1:8000 in two browsers.
//
// Phoenix channels (the page uses the official `phoenix` client, served from /phoenix.mjs out of
// Deno's npm cache: the only download of `deno task start` is that package), one channel per
// room, a presence per room, and the rooms' messages on a pub/sub with a history: a page joining
// a room gets its last 100 messages, a page that reconnects gets what it missed.
//
// Backends: in-process by default. REDIS_URL=redis://127.0.0.1:6379 shares the rooms, their
// history (Redis Streams) and presence (Redis pub/sub) between processes (ioredis is fetched only
// then). PUBSUB=broadcast shares rooms and presence, without history, between the workers of
//   deno serve --parallel --host 127.0.0.1 --port 8000 -A examples/chat/server.ts
// CHAT_TIMEOUT_MS sets the channels' heartbeat timeout (default 60000). GET /metrics serves the
// connections' telemetry in the Prometheus text format (per worker).
import { websockHandler } from "@websock/websock/deno";
import {
  BroadcastChannelBackend,
  HistoryPubSub,
  MemoryHistory,
  PubSub,
} from "@websock/websock/pubsub";
import type { Broadcast } from "@websock/websock/channels";
import type { RedisStreamsBackend } from "@websock/websock/pubsub-redis-streams";
import type { RedisBackend } from "@websock/websock/pubsub-redis";
import { Metrics } from "@websock/websock/telemetry";
import { chatApp } from "./app.ts";

// Loaded only with REDIS_URL, through specifiers Deno does not follow ahead of time, so the
// in-memory demo downloads nothing from npm but the page's client.
const STREAMS: string = "@websock/websock/pubsub-redis-streams";
const REDIS: string = "@websock/websock/pubsub-redis";
const RECENT = 100; // messages a room keeps for the pages that join it

const redisUrl = Deno.env.get("REDIS_URL");
const broadcast = Deno.env.get("PUBSUB") === "broadcast";
const pubsub = redisUrl
  ? new HistoryPubSub<Broadcast>({
    backend: new ((await import(STREAMS)).RedisStreamsBackend as typeof RedisStreamsBackend)({
      url: redisUrl,
      maxLength: RECENT,
    }),
  })
  : broadcast
  ? new PubSub<Broadcast>({ backend: new BroadcastChannelBackend({ name: "websock-chat" }) })
  : new HistoryPubSub<Broadcast>({ backend: new MemoryHistory({ maxLength: RECENT }) });
const replicas = redisUrl
  ? new PubSub<unknown>({
    backend: new ((await import(REDIS)).RedisBackend as typeof RedisBackend)({ url: redisUrl }),
  })
  : broadcast
  ? new PubSub<unknown>({ backend: new BroadcastChannelBackend({ name: "websock-chat-presence" }) })
  : new PubSub<unknown>();
const node = `${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
const timeout = Deno.env.get("CHAT_TIMEOUT_MS");
const { app } = chatApp(pubsub, replicas, node, timeout ? Number(timeout) : undefined);

const page = await Deno.readFile(new URL("./index.html", import.meta.url));
const icon = await Deno.readFile(new URL("./favicon.svg", import.meta.url));
// The browser build of the phoenix client, from Deno's npm cache (ESM, no dependencies).
await import("npm:phoenix@1.8.16");
const client = await Deno.readFile(new URL(import.meta.resolve("npm:phoenix@1.8.16")));
const metrics = new Metrics();

const files: Record<string, [Uint8Array<ArrayBuffer>, string]> = {
  "/": [page, "text/html; charset=utf-8"],
  "/phoenix.mjs": [client, "text/javascript; charset=utf-8"],
  "/favicon.svg": [icon, "image/svg+xml"],
};

const handler = websockHandler(app, {
  ...app.adapterOptions,
  telemetry: metrics,
  fallback: (request) => {
    const { pathname } = new URL(request.url);
    if (pathname === "/metrics") return metrics.response();
    const file = files[pathname];
    return file
      ? new Response(file[0], { headers: { "content-type": file[1] } })
      : new Response("Not found\n", { status: 404 });
  },
});

export default { fetch: handler } satisfies Deno.ServeDefaultExport;
