// One node of bench/presence_bench.ts, in its own process: a PubSub over Redis, a Tracker
// (name from argv), and answers on plain pub/sub topics so that the other node can time
// what reaches this one:
//
// - "plain" → it publishes the same message back on "plain-ack" (a plain pub/sub round trip);
// - "bulk" {n} → once it has received n of them, it publishes on "bulk-done";
// - every presence diff with joins → it publishes {size} on "seen" (the tracker's entries now).
//
// stdin commands, one a line: "mem" → prints {heap, size} (heap used after a GC, minus the
// heap once ready); "quit" → closes and exits. stdout: "ready", then one JSON line per
// command. Run with --v8-flags=--expose-gc.
//
// Run: deno run -A --v8-flags=--expose-gc bench/_presence_node.ts <redis-url> <name> <topic>
//        <heartbeat-ms> <batch-ms>

import { PubSub } from "../pubsub/mod.ts";
import { RedisBackend } from "../pubsub/redis.ts";
import { Tracker } from "../presence/mod.ts";

const [url, name, topic, heartbeat, batch] = Deno.args;
const gc = (globalThis as { gc?: () => void }).gc;
const heap = () => {
  gc?.();
  gc?.();
  return Deno.memoryUsage().heapUsed;
};

const pubsub = new PubSub<unknown>({ backend: new RedisBackend({ url }), onError: () => {} });
const started = performance.now();
let synced: number | undefined;
const tracker = new Tracker({
  pubsub,
  name,
  topic,
  heartbeatInterval: Number(heartbeat),
  downAfter: 5 * Number(heartbeat),
  batchDelay: Number(batch),
  maxEntries: 1_000_000,
  onDiff(_topic, diff) {
    if (Object.keys(diff.joins).length === 0) return;
    pubsub.publish("seen", { node: name, size: tracker.size });
    if (synced === undefined && tracker.size >= 10_000) synced = performance.now() - started;
  },
});
await pubsub.subscribe("plain", { send: (m) => (pubsub.publish("plain-ack", m), true) });
let bulk = 0;
await pubsub.subscribe("bulk", {
  send(m) {
    if (++bulk === (m as { n: number }).n) pubsub.publish("bulk-done", { bulk }), bulk = 0;
    return true;
  },
});
await pubsub.subscribe("noop", { send: () => true }); // the Redis connection is warm
const baseline = heap();
console.log("ready");

const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let buffered = "";
for await (const chunk of lines) {
  buffered += chunk;
  let newline;
  while ((newline = buffered.indexOf("\n")) >= 0) {
    const command = buffered.slice(0, newline).trim();
    buffered = buffered.slice(newline + 1);
    if (command === "mem") {
      console.log(JSON.stringify({ heap: heap() - baseline, size: tracker.size, synced }));
    } else if (command === "quit") {
      await tracker.close();
      await pubsub.close();
      Deno.exit(0);
    }
  }
}
