// The application of examples/scale/{deno,bun,node}.ts, the same on every runtime: every
// WebSocket joins the topic named by its URL (`/?topic=news`, default "all") on a PubSub whose
// backend joins the server processes (Redis), and gets every message published to it, by any
// process, as a text frame. `lane` picks how: "mail" (the connection's mailbox, `handleInfo`
// pushes it) or "fast" (the fastlane: the frame is encoded once per publish per process, no
// callback). Runtime-neutral: no Deno.*, Bun.* or node:*.
//
// The control routes answer on each process's own control port (the shared port spreads
// requests over the processes): GET /stats {pid, count, rss, heap, lane}; GET /lane?mode=M
// switches every connection's subscription to lane M in place; GET /topics?n=N moves the
// connections to N topics t0…t<N-1> in turn (0: back to "all"); GET /publish?topic=T&data=D.

import { ok, push, type WebSock } from "@websock/websock";
import type { Connection } from "@websock/websock/deno";
import type { PubSub } from "@websock/websock/pubsub";

/** How a connection takes its topic's messages. */
export type Lane = "mail" | "fast";

/** The room server: its handler, its upgrade hook and its control routes. */
export interface Room {
  readonly handler: WebSock<Connection<string>, string, string>;
  /** The `upgrade` hook: the topic of `/?topic=T`. */
  upgrade(request: Request): string;
  /** Answer a control request (memory: the runtime's numbers, after a GC if it can). */
  control(url: URL, memory: () => { rss: number; heap: number }): Response;
}

const identity = (message: string) => message;

/** Make the room server over `pubsub`. */
export function room(pubsub: PubSub<string>, options: { lane?: Lane; pid?: number } = {}): Room {
  let lane: Lane = options.lane ?? "mail";
  const topics = new Map<Connection<string>, string>();
  const join = (topic: string, connection: Connection<string>) =>
    pubsub.subscribe(topic, connection, lane === "fast" ? { encode: identity } : {});
  // The state is the connection itself: terminate forgets it.
  const handler: WebSock<Connection<string>, string, string> = {
    async init(topic, connection) {
      await join(topic, connection); // once Redis confirms the topic's SUBSCRIBE
      topics.set(connection, topic);
      return ok(connection);
    },
    handleIn: (_data, connection) => ok(connection),
    handleInfo: (message, connection) => push(message, connection),
    terminate(_reason, connection) {
      topics.delete(connection);
    },
  };
  const json = (body: unknown) =>
    new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });
  return {
    handler,
    upgrade: (request) => new URL(request.url).searchParams.get("topic") ?? "all",
    control(url, memory) {
      switch (url.pathname) {
        case "/stats":
          return json({ pid: options.pid, count: topics.size, lane, ...memory() });
        case "/lane": {
          const mode = url.searchParams.get("mode");
          if (mode !== "mail" && mode !== "fast") {
            return new Response(`Unknown lane ${mode}\n`, { status: 400 });
          }
          lane = mode;
          for (const [connection, topic] of topics) {
            if (!connection.closed) join(topic, connection);
          }
          return json({ lane, count: topics.size });
        }
        case "/topics": {
          // Move the connections to `n` topics t0…t<n-1>, in turn (n = 0: back to "all").
          const n = Number(url.searchParams.get("n") ?? 0);
          if (!Number.isInteger(n) || n < 0) {
            return new Response(`Invalid n ${n}\n`, { status: 400 });
          }
          let i = 0;
          for (const [connection, topic] of topics) {
            const next = n === 0 ? "all" : `t${i++ % n}`;
            if (next === topic || connection.closed) continue;
            pubsub.unsubscribe(topic, connection);
            topics.set(connection, next);
            join(next, connection);
          }
          return json({ topics: pubsub.topics().length, count: topics.size });
        }
        case "/publish": {
          const topic = url.searchParams.get("topic") ?? "all";
          return json(pubsub.publish(topic, url.searchParams.get("data") ?? ""));
        }
        default:
          return new Response("Not found\n", { status: 404 });
      }
    },
  };
}
