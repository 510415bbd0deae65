// The chat demo: `deno task start`, then open http://127.0.0.1:8000 in two tabs.
//
// Backends: in-process by default; REDIS_URL=redis://127.0.0.1:6379 shares the room between
// processes through Redis; PUBSUB=broadcast shares it between the workers of
//   deno serve --parallel --host 127.0.0.1 --port 8000 -A examples/chat/server.ts
// The page is served by websockHandler's fallback, the user name comes in through the
// upgrade hook, and every welcome says which worker (process or worker) serves it.
// CHAT_TIMEOUT_MS sets the keep-alive `timeout` (default 60000: a silent tab is pinged after
// about 30 s and stays as long as it answers; a dead one goes after 60 s). GET /metrics serves
// the connections' telemetry in the Prometheus text format (per worker).
import { websockHandler } from "@websock/websock/deno";
import { BroadcastChannelBackend, PubSub } from "@websock/websock/pubsub";
import type { RedisBackend } from "@websock/websock/pubsub-redis";
import { Metrics } from "@websock/websock/telemetry";
import { chat, type ChatEvent, joinRequest } from "./app.ts";

// Loaded only with REDIS_URL, through a specifier Deno does not follow ahead of time, so the
// in-memory demo downloads nothing from npm (ioredis is only fetched when it is used).
const REDIS: string = "@websock/websock/pubsub-redis";

const redisUrl = Deno.env.get("REDIS_URL");
const backend = redisUrl
  ? new ((await import(REDIS)).RedisBackend as typeof RedisBackend)({ url: redisUrl })
  : Deno.env.get("PUBSUB") === "broadcast"
  ? new BroadcastChannelBackend({ name: "websock-chat" })
  : undefined;
const pubsub = new PubSub<ChatEvent>({ backend });
const worker = `${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
const page = await Deno.readFile(new URL("./index.html", import.meta.url));
const metrics = new Metrics();

const timeout = Deno.env.get("CHAT_TIMEOUT_MS");

const handler = websockHandler(chat(pubsub, worker), {
  upgrade: joinRequest,
  timeout: timeout ? Number(timeout) : undefined,
  telemetry: metrics,
  fallback: (request) => {
    const { pathname } = new URL(request.url);
    if (pathname === "/metrics") return metrics.response();
    return pathname === "/"
      ? new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } })
      : new Response("Not found\n", { status: 404 });
  },
});

export default { fetch: handler } satisfies Deno.ServeDefaultExport;
