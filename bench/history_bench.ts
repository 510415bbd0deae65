// Pub/sub with history (issue 16), on one redis-server started here (127.0.0.1, no
// persistence):
//
// 1. Publish -> delivery latency between two nodes (two hubs with their own connections, in
//    this process): Redis Streams (HistoryPubSub + RedisStreamsBackend) against Redis pub/sub
//    (PubSub + RedisBackend) on the same Redis, and Streams with publisher and subscriber on
//    one node. One message in flight, 64 B, 1,000 per run after 100 of warm-up; runs alternate.
// 2. Catching one subscriber up on 10,000 missed messages: to a mailbox-like inbox, and to a
//    WebSocket client (from `new WebSocket` to its 10,000th message), through Redis Streams and
//    through the in-process MemoryHistory.
//
// Run: deno run -A bench/history_bench.ts [runs=5]
import { ok, push, type WebSock } from "../mod.ts";
import { websockHandler } from "../adapters/deno.ts";
import {
  type Delivery,
  type HistoryBackend,
  HistoryPubSub,
  MemoryHistory,
  type Position,
  PubSub,
} from "../pubsub/mod.ts";
import { RedisBackend } from "../pubsub/redis.ts";
import { RedisStreamsBackend } from "../pubsub/redis_streams.ts";
import { startRedis } from "../tests/_redis.ts";
import { Redis } from "npm:ioredis@^5.4.1";

const runs = Number(Deno.args[0] ?? 5);
const PAYLOAD = "x".repeat(64);
const MESSAGES = 1000, WARMUP = 100, MISSED = 10_000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

type Latency = { p50: number; p90: number; p99: number };

/** Send one message at a time through `publish`, wait for `arrived`, return percentiles. */
async function pingPong(
  publish: (i: number) => void,
  arrived: { next: () => Promise<void> },
): Promise<Latency> {
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + MESSAGES; i++) {
    const wait = arrived.next();
    const t0 = performance.now();
    publish(i);
    await wait;
    if (i >= WARMUP) samples.push((performance.now() - t0) * 1000);
  }
  samples.sort((a, b) => a - b);
  return {
    p50: percentile(samples, 0.5),
    p90: percentile(samples, 0.9),
    p99: percentile(samples, 0.99),
  };
}

function signal() {
  let resolve = () => {};
  return {
    fire: () => resolve(),
    next: () => new Promise<void>((r) => resolve = r),
  };
}

await using redis = await startRedis();
const url = redis.url;
const quiet = () => {};

type Hub = {
  subscribe(topic: string, subscriber: { send(m: unknown): boolean }): Promise<void>;
  publish(topic: string, message: string): unknown;
  close(): Promise<void>;
};

/** Publish on `one`, receive on `two` (which may be `one`). */
async function between(one: Hub, two: Hub): Promise<Latency> {
  const s = signal();
  await two.subscribe("lat", { send: () => (s.fire(), true) });
  const result = await pingPong(() => one.publish("lat", PAYLOAD), s);
  await one.close();
  await two.close();
  return result;
}

const streamsHub = () =>
  new HistoryPubSub<string>({
    backend: new RedisStreamsBackend({ url, maxLength: 10_000 }),
    onError: quiet,
  });

const contestants: Record<string, () => Promise<Latency>> = {
  "raw ioredis PUBLISH -> SUBSCRIBE (floor)": async () => {
    const pub = new Redis(url), sub = new Redis(url);
    const s = signal();
    sub.on("message", () => s.fire());
    await sub.subscribe("raw");
    const result = await pingPong(() => pub.publish("raw", PAYLOAD), s);
    pub.disconnect();
    sub.disconnect();
    return result;
  },
  "raw ioredis XADD -> XREAD BLOCK (floor)": async () => {
    const pub = new Redis(url), sub = new Redis(url);
    const s = signal();
    let last = "0-0", closing = false;
    await pub.ping();
    const loop = (async () => {
      while (!closing) {
        const res = await sub.call("XREAD", ["COUNT", 100, "BLOCK", 1000, "STREAMS", "rawx", last])
          .catch(() => null) as [string, [string, string[]][]][] | null;
        if (!res) continue;
        last = res[0][1].at(-1)![0];
        s.fire();
      }
    })();
    await new Promise((r) => setTimeout(r, 20));
    const result = await pingPong(
      () => pub.xadd("rawx", "MAXLEN", "~", 10000, "*", "d", PAYLOAD),
      s,
    );
    closing = true;
    sub.disconnect();
    await loop;
    pub.disconnect();
    return result;
  },
  "Redis pub/sub (PubSub + RedisBackend), 2 nodes": () =>
    between(
      new PubSub<string>({ backend: new RedisBackend({ url }), onError: quiet }),
      new PubSub<string>({ backend: new RedisBackend({ url }), onError: quiet }),
    ),
  "Redis Streams (HistoryPubSub + RedisStreamsBackend), 2 nodes": () =>
    between(streamsHub(), streamsHub()),
  "Redis Streams, publisher and subscriber on 1 node": () => {
    const hub = streamsHub();
    return between(hub, hub);
  },
};

const latencies = new Map<string, Latency[]>();
for (let run = 0; run < runs; run++) {
  for (const [name, measure] of Object.entries(contestants)) {
    const list = latencies.get(name) ?? [];
    list.push(await measure());
    latencies.set(name, list);
  }
}

console.log(`\n### Publish -> delivery, 1 message in flight (${runs} runs, medians, µs)\n`);
console.log("| path | p50 | p90 | p99 | p50 runs |");
console.log("| --- | ---: | ---: | ---: | --- |");
const f = (n: number) => n.toFixed(0);
for (const [name, list] of latencies) {
  const p50s = list.map((l) => l.p50);
  console.log(
    `| ${name} | **${f(median(p50s))}** | ${f(median(list.map((l) => l.p90)))} | ` +
      `${f(median(list.map((l) => l.p99)))} | ${p50s.map(f).join(", ")} |`,
  );
}
const p50 = (i: number) => median(latencies.get(Object.keys(contestants)[i])!.map((l) => l.p50));
console.log(
  `\nStreams p50 / pub/sub backend p50 = ${(p50(3) / p50(2)).toFixed(2)}× (target <= 2×); ` +
    `floors: raw XADD->XREAD / raw PUBLISH->SUBSCRIBE = ${(p50(1) / p50(0)).toFixed(2)}×; ` +
    `Streams / raw XADD->XREAD = ${(p50(3) / p50(1)).toFixed(2)}×`,
);

// --- Catch-up ----------------------------------------------------------------------------

/** Publish MISSED messages on `pubsub` (pipelined), return the position before the first. */
async function fill(pubsub: HistoryPubSub<string>, topic: string): Promise<Position> {
  const first = await pubsub.publish(topic, PAYLOAD);
  const pending = [];
  for (let i = 1; i < MISSED; i++) {
    pending.push(pubsub.publish(topic, PAYLOAD));
    if (pending.length === 1000) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  return { epoch: first.epoch, offset: first.offset - 1 };
}

/** To an inbox: from subscribe() to the last message. */
async function catchUpInbox(reader: HistoryPubSub<string>, topic: string, since: Position) {
  let count = 0, last = 0;
  const done = Promise.withResolvers<void>();
  const t0 = performance.now();
  await reader.subscribe(topic, {
    send(d: Delivery<string>) {
      if (d.type !== "message" || d.position.offset !== ++last) throw new Error("out of order");
      if (++count === MISSED) done.resolve();
      return true;
    },
  }, { since });
  await done.promise;
  return performance.now() - t0;
}

/** To a WebSocket client: from `new WebSocket` to its last message. */
async function catchUpSocket(reader: HistoryPubSub<string>, topic: string, since: Position) {
  const Replay = {
    init(_arg: undefined, connection) {
      reader.subscribe(topic, connection, { since });
      return ok(null);
    },
    handleIn: (_d, s) => ok(s),
    handleInfo: (d, s) =>
      push(JSON.stringify(d.type === "message" ? { p: d.position, m: d.message } : d), s),
  } satisfies WebSock<null, Delivery<string>>;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    websockHandler(Replay),
  );
  const t0 = performance.now();
  const socket = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
  let count = 0;
  await new Promise<void>((resolve, reject) => {
    socket.onmessage = () => {
      if (++count === MISSED) resolve();
    };
    socket.onclose = (e) => reject(new Error(`closed ${e.code} after ${count}`));
  });
  const ms = performance.now() - t0;
  socket.onclose = null;
  await new Promise<void>((resolve) => {
    socket.onclose = () => resolve();
    socket.close();
  });
  await server.shutdown();
  return ms;
}

type Hubs = {
  writer: HistoryPubSub<string>;
  reader: HistoryPubSub<string>;
  close(): Promise<void>;
};

const setups: Record<string, () => Hubs> = {
  "Redis Streams (published on node 1, caught up on node 2)": () => {
    const backend = (): HistoryBackend => new RedisStreamsBackend({ url, maxLength: 20_000 });
    const writer = new HistoryPubSub<string>({ backend: backend(), onError: quiet });
    const reader = new HistoryPubSub<string>({ backend: backend(), onError: quiet });
    return { writer, reader, close: async () => (await writer.close(), await reader.close()) };
  },
  "MemoryHistory (in-process)": () => {
    const hub = new HistoryPubSub<string>({ backend: new MemoryHistory({ maxLength: 20_000 }) });
    return { writer: hub, reader: hub, close: () => hub.close() };
  },
};

const catchUps = new Map<string, number[]>();
for (let run = 0; run < runs; run++) {
  for (const [name, setup] of Object.entries(setups)) {
    for (const target of ["inbox", "WebSocket client"] as const) {
      const hubs = setup();
      const topic = `missed-${run}-${target}`;
      const since = await fill(hubs.writer, topic);
      const ms = target === "inbox"
        ? await catchUpInbox(hubs.reader, topic, since)
        : await catchUpSocket(hubs.reader, topic, since);
      await hubs.close();
      const key = `${name}, to ${target === "inbox" ? "an inbox (library only)" : target}`;
      catchUps.set(key, [...catchUps.get(key) ?? [], ms]);
    }
  }
}

console.log(
  `\n### Catching one subscriber up on ${
    MISSED.toLocaleString("en")
  } missed messages (${runs} runs)\n`,
);
console.log("| path | median ms | min–max |");
console.log("| --- | ---: | --- |");
for (const [name, list] of catchUps) {
  console.log(
    `| ${name} | **${median(list).toFixed(0)}** | ${Math.min(...list).toFixed(0)}–${
      Math.max(...list).toFixed(0)
    } |`,
  );
}
