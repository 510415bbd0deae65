// NATS backends (issue 22) against bare nats clients and the Redis backends, in one run, on a
// nats-server -js and a redis-server started here (127.0.0.1, free ports; JetStream on file
// storage in a temporary directory, Redis without persistence):
//
// 1. Publish -> delivery latency between two nodes (two hubs with their own connections, in
//    this process), one 64 B message in flight, 1,000 per run after 100 of warm-up; runs
//    alternate contestant by contestant.
// 2. Throughput: 20,000 messages of 64 B published as fast as the API allows (history
//    backends: up to 1,000 publishes in flight), timed until node 2 has the last.
// 3. Catching one subscriber up on 10,000 missed messages (JetStream and Redis Streams).
//
// Run: deno run --lock=deno.lock -A bench/nats_bench.ts [runs=5]
import { connect } from "npm:@nats-io/transport-node@^3.4.0";
import { jetstream, jetstreamManager } from "npm:@nats-io/jetstream@^3.4.0";
import { Redis } from "npm:ioredis@^5.4.1";
import { type Delivery, HistoryPubSub, type Position, PubSub } from "../pubsub/mod.ts";
import { NatsBackend } from "../pubsub/nats.ts";
import { JetStreamBackend } from "../pubsub/nats_jetstream.ts";
import { RedisBackend } from "../pubsub/redis.ts";
import { RedisStreamsBackend } from "../pubsub/redis_streams.ts";
import { startNats } from "../tests/_nats.ts";
import { startRedis } from "../tests/_redis.ts";

const runs = Number(Deno.args[0] ?? 5);
const PAYLOAD = "x".repeat(64);
const MESSAGES = 1000, WARMUP = 100, BURST = 20_000, WINDOW = 1000, MISSED = 10_000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

type Latency = { p50: number; p90: number; p99: number };

function signal() {
  let resolve = () => {};
  return { fire: () => resolve(), next: () => new Promise<void>((r) => resolve = r) };
}

/** One message at a time: publish, wait until it arrived; percentiles in µs. */
async function pingPong(
  publish: (i: number) => unknown,
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

/** BURST publishes (up to WINDOW in flight when they return promises); messages per second. */
async function burst(publish: () => unknown, counter: { count: number }): Promise<number> {
  const t0 = performance.now();
  let pending: unknown[] = [];
  for (let i = 0; i < BURST; i++) {
    pending.push(publish());
    if (pending.length === WINDOW) {
      await Promise.all(pending);
      pending = [];
      await new Promise((r) => setTimeout(r, 0)); // let the sockets run
    }
  }
  await Promise.all(pending);
  for (let i = 0; i < 3000 && counter.count < BURST; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  if (counter.count < BURST) throw new Error(`only ${counter.count} of ${BURST} arrived`);
  return BURST / ((performance.now() - t0) / 1000);
}

await using nats = await startNats();
await using redis = await startRedis();
const quiet = () => {};

type Hub = {
  subscribe(topic: string, subscriber: { send(m: unknown): boolean }): Promise<void>;
  publish(topic: string, message: string): unknown;
  close(): Promise<void>;
};
type Pair = { one: Hub; two: Hub };
type Contestant = {
  latency(): Promise<Latency>;
  throughput(): Promise<number>;
};

let topics = 0;

/** A contestant made of two hubs (which may be one). */
function hubs(make: () => Pair): Contestant {
  return {
    async latency() {
      const { one, two } = make();
      const s = signal(), topic = `lat${topics++}`;
      await two.subscribe(topic, { send: () => (s.fire(), true) });
      const result = await pingPong(() => one.publish(topic, PAYLOAD), s);
      await one.close();
      await two.close();
      return result;
    },
    async throughput() {
      const { one, two } = make();
      const counter = { count: 0 }, topic = `tp${topics++}`;
      await two.subscribe(topic, { send: () => (counter.count++, true) });
      const result = await burst(() => one.publish(topic, PAYLOAD), counter);
      await one.close();
      await two.close();
      return result;
    },
  };
}

/** A bare client contestant: `setup` gives publish, the counter and signal, and a cleanup. */
function bare(
  setup: (
    topic: string,
    arrived: () => void,
  ) => Promise<{ publish(): unknown; close(): Promise<void> }>,
): Contestant {
  return {
    async latency() {
      const s = signal();
      const c = await setup(`raw${topics++}`, () => s.fire());
      const result = await pingPong(() => c.publish(), s);
      await c.close();
      return result;
    },
    async throughput() {
      const counter = { count: 0 };
      const c = await setup(`raw${topics++}`, () => counter.count++);
      const result = await burst(() => c.publish(), counter);
      await c.close();
      return result;
    },
  };
}

const jetStreamHub = () =>
  new HistoryPubSub<string>({
    backend: new JetStreamBackend({ url: nats.url, maxLength: 100_000, maxAge: 0 }),
    onError: quiet,
  });
const streamsHub = () =>
  new HistoryPubSub<string>({
    backend: new RedisStreamsBackend({ url: redis.url, maxLength: 100_000 }),
    onError: quiet,
  });

const contestants: Record<string, Contestant> = {
  "bare nats core publish → subscribe (floor)": bare(async (topic, arrived) => {
    const pub = await connect({ servers: `127.0.0.1:${nats.port}` });
    const sub = await connect({ servers: `127.0.0.1:${nats.port}` });
    sub.subscribe(topic, { callback: () => arrived() });
    await sub.flush();
    return {
      publish: () => pub.publish(topic, PAYLOAD),
      async close() {
        await pub.close();
        await sub.close();
      },
    };
  }),
  "bare JetStream publish (acked) → republished delivery (floor)": bare(async (topic, arrived) => {
    const pub = await connect({ servers: `127.0.0.1:${nats.port}` });
    const sub = await connect({ servers: `127.0.0.1:${nats.port}` });
    const jsm = await jetstreamManager(pub);
    await jsm.streams.add({
      name: topic,
      subjects: [`${topic}.s`],
      max_msgs: 100_000,
      allow_direct: true,
      republish: { src: `${topic}.s`, dest: `${topic}.r` },
    });
    sub.subscribe(`${topic}.r`, { callback: () => arrived() });
    await sub.flush();
    const js = jetstream(pub);
    return {
      publish: () => js.publish(`${topic}.s`, PAYLOAD),
      async close() {
        await jsm.streams.delete(topic);
        await pub.close();
        await sub.close();
      },
    };
  }),
  "NATS pub/sub (PubSub + NatsBackend), 2 nodes": hubs(() => ({
    one: new PubSub<string>({ backend: new NatsBackend({ url: nats.url }), onError: quiet }),
    two: new PubSub<string>({ backend: new NatsBackend({ url: nats.url }), onError: quiet }),
  })),
  "JetStream (HistoryPubSub + JetStreamBackend), 2 nodes": hubs(() => ({
    one: jetStreamHub(),
    two: jetStreamHub(),
  })),
  "JetStream, publisher and subscriber on 1 node": hubs(() => {
    const hub = jetStreamHub();
    return { one: hub, two: hub };
  }),
  "bare ioredis PUBLISH → SUBSCRIBE (floor)": bare(async (topic, arrived) => {
    const pub = new Redis(redis.url), sub = new Redis(redis.url);
    sub.on("message", () => arrived());
    await sub.subscribe(topic);
    return {
      publish: () => pub.publish(topic, PAYLOAD),
      close() {
        pub.disconnect();
        sub.disconnect();
        return Promise.resolve();
      },
    };
  }),
  "Redis pub/sub (PubSub + RedisBackend), 2 nodes": hubs(() => ({
    one: new PubSub<string>({ backend: new RedisBackend({ url: redis.url }), onError: quiet }),
    two: new PubSub<string>({ backend: new RedisBackend({ url: redis.url }), onError: quiet }),
  })),
  "Redis Streams (HistoryPubSub + RedisStreamsBackend), 2 nodes": hubs(() => ({
    one: streamsHub(),
    two: streamsHub(),
  })),
};

const latencies = new Map<string, Latency[]>();
const rates = new Map<string, number[]>();
for (let run = 0; run < runs; run++) {
  for (const [name, c] of Object.entries(contestants)) {
    latencies.set(name, [...latencies.get(name) ?? [], await c.latency()]);
  }
  for (const [name, c] of Object.entries(contestants)) {
    rates.set(name, [...rates.get(name) ?? [], await c.throughput()]);
  }
}

const f = (n: number) => n.toFixed(0);
const k = (n: number) => (n / 1000).toFixed(1);
console.log(`\n#### Publish → delivery, 1 message in flight (${runs} runs, medians, µs)\n`);
console.log("| path | p50 | p90 | p99 | p50 of each run |");
console.log("| --- | ---: | ---: | ---: | --- |");
for (const [name, list] of latencies) {
  const p50s = list.map((l) => l.p50);
  console.log(
    `| ${name} | **${f(median(p50s))}** | ${f(median(list.map((l) => l.p90)))} | ` +
      `${f(median(list.map((l) => l.p99)))} | ${p50s.map(f).join(", ")} |`,
  );
}
console.log(
  `\n#### Throughput, ${BURST.toLocaleString("en")} × 64 B to one subscriber on node 2 ` +
    `(${runs} runs, thousand messages/s)\n`,
);
console.log("| path | median | each run |");
console.log("| --- | ---: | --- |");
for (const [name, list] of rates) {
  console.log(`| ${name} | **${k(median(list))}** | ${list.map(k).join(", ")} |`);
}

// --- Catch-up ----------------------------------------------------------------------------

async function fill(pubsub: HistoryPubSub<string>, topic: string): Promise<Position> {
  const first = await pubsub.publish(topic, PAYLOAD);
  let pending = [];
  for (let i = 1; i < MISSED; i++) {
    pending.push(pubsub.publish(topic, PAYLOAD));
    if (pending.length === WINDOW) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  return { epoch: first.epoch, offset: first.offset - 1 };
}

async function catchUp(make: () => HistoryPubSub<string>, topic: string): Promise<number> {
  const writer = make(), reader = make();
  const since = await fill(writer, topic);
  let count = 0, last = since.offset;
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
  const ms = performance.now() - t0;
  await writer.close();
  await reader.close();
  return ms;
}

const catchUps = new Map<string, number[]>();
for (let run = 0; run < runs; run++) {
  for (
    const [name, make] of [["JetStream", jetStreamHub], ["Redis Streams", streamsHub]] as const
  ) {
    catchUps.set(name, [...catchUps.get(name) ?? [], await catchUp(make, `catch${topics++}`)]);
  }
}
console.log(`\n#### Catching one subscriber up on ${MISSED.toLocaleString("en")} missed (ms)\n`);
console.log("| backend | median | min–max |");
console.log("| --- | ---: | --- |");
for (const [name, list] of catchUps) {
  console.log(
    `| ${name} (published on node 1, caught up on node 2), inbox | **${f(median(list))}** | ` +
      `${f(Math.min(...list))}–${f(Math.max(...list))} |`,
  );
}
