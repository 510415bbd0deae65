// Pub/sub fan-out: publish to one topic with 5,000 subscribed WebSocket connections, in one
// process (in-process backend) and across two processes sharing one Redis.
//
// Run: deno run -A bench/pubsub_bench.ts [connections=5000] [messages=20]
// (the Redis case needs redis-server on the PATH; it starts its own on 127.0.0.1.)
//
// Clients and the publishing server share this process, so the figures include the clients'
// own receive cost. A "delivery" is one message reaching one client.
import { ok, push, type WebSock } from "../mod.ts";
import { websockHandler } from "../adapters/deno.ts";
import { PubSub } from "../pubsub/mod.ts";
import { RedisBackend } from "../pubsub/redis.ts";
import { startRedis } from "../tests/_redis.ts";

const TOPIC = "bench";

function subscriber(pubsub: PubSub<string>): WebSock<null, string> {
  return {
    async init(_arg, connection) {
      await pubsub.subscribe(TOPIC, connection);
      return push("ready", null);
    },
    handleIn: (_data, state) => ok(state),
    handleInfo: (message, state) => push(message, state),
  };
}

function serve(pubsub: PubSub<string>): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    websockHandler(subscriber(pubsub), { maxQueuedEvents: 100_000 }),
  );
}

// The second process of the Redis case: serve, print the port, run until stdin closes.
if (Deno.args[0] === "--child") {
  const pubsub = new PubSub<string>({ backend: new RedisBackend({ url: Deno.args[1] }) });
  const server = serve(pubsub);
  console.log(server.addr.port);
  for await (const _ of Deno.stdin.readable);
  Deno.exit(0);
}

const connections = Number(Deno.args[0] ?? 5000);
const messages = Number(Deno.args[1] ?? 20);

type Counter = { received: number; done: () => void; target: number };

async function openClients(ports: number[], n: number, counter: Counter): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  for (let start = 0; start < n; start += 250) {
    const batch = [];
    for (let i = start; i < Math.min(n, start + 250); i++) {
      const socket = new WebSocket(`ws://127.0.0.1:${ports[i % ports.length]}/`);
      sockets.push(socket);
      batch.push(
        new Promise<void>((resolve, reject) => {
          socket.onerror = () => reject(new Error(`client ${i} failed`));
          socket.onmessage = (event) => {
            if (event.data === "ready") return resolve();
            if (++counter.received === counter.target) counter.done();
          };
        }),
      );
    }
    await Promise.all(batch);
  }
  return sockets;
}

async function closeClients(sockets: WebSocket[]): Promise<void> {
  await Promise.all(sockets.map((socket) =>
    new Promise<void>((resolve) => {
      socket.onclose = () => resolve();
      socket.close();
    })
  ));
}

async function fanOut(label: string, pubsub: PubSub<string>, ports: number[]): Promise<void> {
  const counter: Counter = { received: 0, target: connections, done: () => {} };
  const t0 = performance.now();
  const sockets = await openClients(ports, connections, counter);
  const tOpen = performance.now() - t0;
  const payload = "x".repeat(64);

  // One message to everyone: fan-out latency.
  let finished = new Promise<void>((resolve) => counter.done = resolve);
  let start = performance.now();
  pubsub.publish(TOPIC, payload);
  await finished;
  const one = performance.now() - start;

  // A burst: throughput.
  counter.received = 0;
  counter.target = connections * messages;
  finished = new Promise<void>((resolve) => counter.done = resolve);
  start = performance.now();
  for (let i = 0; i < messages; i++) pubsub.publish(TOPIC, payload);
  await finished;
  const burst = performance.now() - start;

  console.log(
    `${label}: ${connections} connections (opened in ${tOpen.toFixed(0)} ms); ` +
      `1 message to all: ${one.toFixed(1)} ms; ${messages} messages to all: ` +
      `${burst.toFixed(1)} ms = ${((connections * messages) / (burst / 1000)).toFixed(0)} ` +
      `deliveries/s`,
  );
  await closeClients(sockets);
}

{
  const pubsub = new PubSub<string>();
  const server = serve(pubsub);
  await fanOut("in-process, 1 process", pubsub, [server.addr.port]);
  await server.shutdown();
  await pubsub.close();
}

{
  await using redis = await startRedis();
  const pubsub = new PubSub<string>({ backend: new RedisBackend({ url: redis.url }) });
  const server = serve(pubsub);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--child", redis.url],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const port = Number((await reader.read()).value?.trim());
  await fanOut("Redis, 2 processes (half the clients on each)", pubsub, [
    server.addr.port,
    port,
  ]);
  await child.stdin.close();
  await reader.cancel();
  await child.status;
  await server.shutdown();
  await pubsub.close();
}
