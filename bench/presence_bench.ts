// Presence (issue 21): 10,000 users in one topic across 2 nodes, over one redis-server
// started here (127.0.0.1, a free port, no persistence). Node A is this process, node B a
// child process (bench/_presence_node.ts); both use the default timings (heartbeat 1 s,
// batchDelay 20 ms). Against a plain pub/sub publish on the same Redis, in the same run:
//
// 1. Round trip A → B → A: a plain publish that B publishes back, against a track on A whose
//    diff on B makes B publish back (the presence join reaching the other node, p50 of 200
//    one at a time, with 10,000 users present).
//    The same from a node with batchDelay 0.
// 2. 10,000 at once: 10,000 tracks on A until B has them all (B tells), against 10,000 plain
//    publishes on A until B has received them all (B tells after the last).
// 3. Bytes per idle heartbeat (what A's tracker publishes per second with nothing changing,
//    as JSON, and with the RedisBackend's envelope), against one plain publish of a meta.
// 4. Memory per entry: heap after a GC, on A (its own entries) and on B (its replica).
// 5. A new node C: from its start to having the 10,000 entries (A's state), and that state's
//    size.
//
// Run: deno run -A --v8-flags=--expose-gc bench/presence_bench.ts [runs=3]

import { PubSub } from "../pubsub/mod.ts";
import { RedisBackend } from "../pubsub/redis.ts";
import { type PresencePubSub, Tracker } from "../presence/mod.ts";
import { startRedis } from "../tests/_redis.ts";

const runs = Number(Deno.args[0] ?? 3);
const USERS = 10_000, SAMPLES = 200, WARMUP = 20, HEARTBEAT = 1000, BATCH = 20;
const ROOM = "room:bench";
const NODE = new URL("./_presence_node.ts", import.meta.url).pathname;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) console.warn("No --v8-flags=--expose-gc: memory numbers are rough");
const heap = () => {
  gc?.();
  gc?.();
  return Deno.memoryUsage().heapUsed;
};

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];
const meta = (i: number) => ({ online_at: 1_760_000_000_000 + i, device: "laptop" });

/** A child node: its "ready", its answers to "mem". */
async function spawnNode(url: string, name: string, topic: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      NODE,
      url,
      name,
      topic,
      `${HEARTBEAT}`,
      `${BATCH}`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const line = async (): Promise<string> => {
    for (let i = 0; i < 10_000; i++) {
      const newline = buffered.indexOf("\n");
      if (newline >= 0) {
        const text = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        return text;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error(`node ${name} exited`);
      buffered += value;
    }
    throw new Error(`node ${name}: no line`);
  };
  const ready = await line();
  if (ready !== "ready") throw new Error(`node ${name} said ${ready}`);
  return {
    async mem(): Promise<{ heap: number; size: number; synced?: number }> {
      await writer.write(new TextEncoder().encode("mem\n"));
      return JSON.parse(await line());
    },
    async quit(): Promise<void> {
      await writer.write(new TextEncoder().encode("quit\n"));
      await child.status;
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
    },
  };
}

/** The messages of one topic, awaited one by one. */
function inbox<T>() {
  const waiting: ((m: T) => void)[] = [];
  const queued: T[] = [];
  return {
    send(message: T): boolean {
      const resolve = waiting.shift();
      if (resolve) resolve(message);
      else queued.push(message);
      return true;
    },
    next(): Promise<T> {
      const message = queued.shift();
      if (message !== undefined) return Promise.resolve(message);
      return new Promise((resolve) => waiting.push(resolve));
    },
    clear(): void {
      queued.length = 0;
    },
  };
}

/** What the tracker sends, counted by message type: JSON bytes, and with Redis's envelope. */
function counting(pubsub: PubSub<unknown>) {
  const counts = new Map<string, { messages: number; bytes: number; wire: number }>();
  const node = crypto.randomUUID();
  const hub: PresencePubSub = {
    subscribe: (topic, subscriber) => pubsub.subscribe(topic, subscriber),
    unsubscribe: (topic, subscriber) => pubsub.unsubscribe(topic, subscriber),
    publish(topic, message, options) {
      const type = (message as { t: string }).t;
      const count = counts.get(type) ?? { messages: 0, bytes: 0, wire: 0 };
      count.messages++;
      count.bytes += JSON.stringify(message).length;
      count.wire += JSON.stringify([node, message]).length; // as RedisBackend sends it
      counts.set(type, count);
      return pubsub.publish(topic, message, options);
    },
  };
  return { hub, counts };
}

interface Run {
  plainRtt: number;
  joinRtt: number;
  joinRtt0: number;
  plainBulk: number;
  joinBulk: number;
  heartbeatBytes: number;
  heartbeatWire: number;
  heartbeatsPerSecond: number;
  plainBytes: number;
  memLocal: number;
  memReplica: number;
  syncMs: number;
  stateBytes: number;
}

async function run(url: string, index: number): Promise<Run> {
  const topic = `bench.presence.${index}.${crypto.randomUUID().slice(0, 8)}`;
  const pubsub = new PubSub<unknown>({ backend: new RedisBackend({ url }), onError: () => {} });
  const { hub, counts } = counting(pubsub);
  const seen = inbox<{ node: string; size: number }>();
  const acks = inbox<{ i: number }>();
  const bulkDone = inbox<unknown>();
  await pubsub.subscribe("seen", seen);
  await pubsub.subscribe("plain-ack", acks);
  await pubsub.subscribe("bulk-done", bulkDone);
  const before = heap();
  const a = new Tracker({
    pubsub: hub,
    name: "a",
    topic,
    heartbeatInterval: HEARTBEAT,
    downAfter: 5 * HEARTBEAT,
    batchDelay: BATCH,
    maxEntries: 1_000_000,
  });
  const b = await spawnNode(url, "b", topic);
  for (let i = 0; i < 500 && !a.nodes().some((n) => n.name === "b"); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }

  // 1a. Plain round trip.
  const plain: number[] = [];
  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    const t0 = performance.now();
    pubsub.publish("plain", { i, meta: meta(i) });
    await acks.next();
    if (i >= WARMUP) plain.push(performance.now() - t0);
  }

  // 2. 10,000 at once: tracks, then plain publishes (B acks each; A waits for the last).
  seen.clear();
  const t0 = performance.now();
  for (let i = 0; i < USERS; i++) a.track({}, ROOM, `user${i}`, meta(i));
  for (let size = 0; size < USERS;) size = (await seen.next()).size;
  const joinBulk = performance.now() - t0;
  const memLocal = (heap() - before) / USERS; // the tracker's, and the owners ({} each)
  const t1 = performance.now();
  for (let i = 0; i < USERS; i++) pubsub.publish("bulk", { n: USERS, i, meta: meta(i) });
  await bulkDone.next();
  const plainBulk = performance.now() - t1;

  // 1b. One join at a time, with 10,000 present: B's diff of it makes B publish on "seen".
  const joinRtt = async (tracker: Tracker, prefix: string) => {
    const samples: number[] = [];
    for (let i = 0; i < WARMUP + SAMPLES; i++) {
      seen.clear();
      const t = performance.now();
      tracker.track({}, ROOM, `${prefix}${i}`, meta(i));
      await seen.next();
      if (i >= WARMUP) samples.push(performance.now() - t);
    }
    return median(samples);
  };
  const joins = await joinRtt(a, "late");
  // The same from a node with batchDelay 0 (each change its own delta, in the next task).
  const a0 = new Tracker({
    pubsub,
    name: "a0",
    topic,
    heartbeatInterval: HEARTBEAT,
    batchDelay: 0,
  });
  for (let i = 0; i < 500 && !a0.nodes().some((n) => n.name === "b" && n.synced); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 100)); // B has heard of a0 (its state: empty)
  const joins0 = await joinRtt(a0, "zero");
  await a0.close();
  const entries = USERS + WARMUP + SAMPLES;

  // 3. Idle: 5 heartbeats.
  counts.clear();
  await new Promise((r) => setTimeout(r, 5 * HEARTBEAT + HEARTBEAT / 2));
  const idle = counts.get("h") ?? { messages: 0, bytes: 0, wire: 0 };
  const others = [...counts.keys()].filter((t) => t !== "h");
  if (others.length > 0) console.warn(`run ${index}: while idle A also sent ${others}`);

  // 4. Memory.
  const mb = await b.mem();
  if (mb.size !== entries) console.warn(`run ${index}: B has ${mb.size} entries, not ${entries}`);

  // 5. A new node.
  counts.clear();
  const c = await spawnNode(url, "c", topic);
  let mc = await c.mem();
  for (let i = 0; i < 1000 && mc.synced === undefined; i++) {
    await new Promise((r) => setTimeout(r, 20));
    mc = await c.mem();
  }
  const state = counts.get("s") ?? { messages: 0, bytes: 0, wire: 0 };

  await c.quit();
  await b.quit();
  await a.close();
  await pubsub.close();
  return {
    plainRtt: median(plain),
    joinRtt: joins,
    joinRtt0: joins0,
    plainBulk,
    joinBulk,
    heartbeatBytes: idle.bytes / Math.max(1, idle.messages),
    heartbeatWire: idle.wire / Math.max(1, idle.messages),
    heartbeatsPerSecond: idle.messages / 5.5,
    plainBytes: JSON.stringify({ i: 1234, meta: meta(1234) }).length,
    memLocal,
    memReplica: mb.heap / mb.size,
    syncMs: mc.synced ?? NaN,
    stateBytes: state.bytes / Math.max(1, state.messages),
  };
}

await using redis = await startRedis();
const results: Run[] = [];
for (let i = 0; i < runs; i++) {
  results.push(await run(redis.url, i));
  console.error(`run ${i + 1}/${runs}:`, JSON.stringify(results.at(-1)));
}
const m = (key: keyof Run) => median(results.map((r) => r[key]));
const ms = (v: number) => `${v.toFixed(2)} ms`;
const rows: [string, string, string, string][] = [
  [
    `Round trip A → B → A, p50 of ${SAMPLES} (batchDelay ${BATCH} ms)`,
    ms(m("joinRtt")),
    ms(m("plainRtt")),
    (m("joinRtt") / m("plainRtt")).toFixed(1) + "×",
  ],
  [
    "The same from a node with batchDelay 0",
    ms(m("joinRtt0")),
    ms(m("plainRtt")),
    (m("joinRtt0") / m("plainRtt")).toFixed(1) + "×",
  ],
  [
    `${USERS.toLocaleString("en")} at once, until B has all`,
    ms(m("joinBulk")),
    ms(m("plainBulk")),
    (m("joinBulk") / m("plainBulk")).toFixed(2) + "×",
  ],
  [
    "Bytes per idle heartbeat (JSON / with Redis envelope)",
    `${m("heartbeatBytes").toFixed(0)} / ${m("heartbeatWire").toFixed(0)} B`,
    `${m("plainBytes")} B (one publish of a meta)`,
    "",
  ],
  ["Idle messages per second from one node", m("heartbeatsPerSecond").toFixed(2), "", ""],
  [
    "Heap per entry, own (A) / replica (B)",
    `${m("memLocal").toFixed(0)} / ${m("memReplica").toFixed(0)} B`,
    "",
    "",
  ],
  [
    `New node: start → ${USERS.toLocaleString("en")} entries; state size`,
    `${ms(m("syncMs"))}; ${(m("stateBytes") / 1024).toFixed(0)} KiB`,
    "",
    "",
  ],
];
console.log(
  `\nPresence, ${
    USERS.toLocaleString("en")
  } users in one topic, 2 nodes over Redis; median of ${runs} runs (Deno ${Deno.version.deno})\n`,
);
console.log("| | presence | plain pub/sub | ratio |\n|---|---|---|---|");
for (const row of rows) console.log(`| ${row.join(" | ")} |`);
