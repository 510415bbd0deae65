// The chat demo: `deno task start`, then open http://127.0.0.1:8000 in two tabs.
//
// Backends: in-process by default, with a history: a page that reconnects to the same process
// gets what it missed. REDIS_URL=redis://127.0.0.1:6379 shares the room and its history
// between processes through Redis Streams (a page that reconnects to any of them, or after its
// server restarted, gets what it missed). PUBSUB=broadcast shares the room, without history,
// between the workers of
//   deno serve --parallel --host 127.0.0.1 --port 8000 -A examples/chat/server.ts
// The page is served by websockHandler's fallback, the user name (and the page's last
// position) comes in through the upgrade hook, and every welcome says which worker (process
// or worker) serves it.
// CHAT_TIMEOUT_MS sets the keep-alive `timeout` (default 60000: a silent tab is pinged after
// about 30 s and stays as long as it answers; a dead one goes after 60 s). GET /metrics serves
// the connections' telemetry in the Prometheus text format (per worker).
import { websockHandler } from "@websock/websock/deno";
import { BroadcastChannelBackend, HistoryPubSub, PubSub } from "@websock/websock/pubsub";
import type { RedisStreamsBackend } from "@websock/websock/pubsub-redis-streams";
import { Metrics } from "@websock/websock/telemetry";
import { chat, type ChatEvent, joinRequest, type Room } from "./app.ts";

// Loaded only with REDIS_URL, through a specifier Deno does not follow ahead of time, so the
// in-memory demo downloads nothing from npm (ioredis is only fetched when it is used).
const REDIS: string = "@websock/websock/pubsub-redis-streams";

const redisUrl = Deno.env.get("REDIS_URL");
const pubsub: Room = redisUrl
  ? new HistoryPubSub<ChatEvent>({
    backend: new ((await import(REDIS)).RedisStreamsBackend as typeof RedisStreamsBackend)({
      url: redisUrl,
    }),
  })
  : Deno.env.get("PUBSUB") === "broadcast"
  ? new PubSub<ChatEvent>({ backend: new BroadcastChannelBackend({ name: "websock-chat" }) })
  : new HistoryPubSub<ChatEvent>();
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
