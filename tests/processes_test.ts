// Many processes, one machine (docs/scaling.md): 3 server processes on one port, joined by
// Redis pub/sub: examples/scale/deno.ts and bun.ts (reusePort), node.ts (node:cluster workers).
// The clients are bench/fanout_client.mjs (raw TCP, under Node): a few thousand are cheap.

import assert from "node:assert/strict";
import { PubSub } from "../pubsub/mod.ts";
import { RedisBackend } from "../pubsub/redis.ts";
import { TextLineStream } from "../bench/_lines.ts";
import { delay } from "./_helpers.ts";
import { freePort, HAS_REDIS, run, startRedis, warnWithoutRedis } from "./_redis.ts";
import { findBun } from "./_adapter_suite.ts";

warnWithoutRedis("processes_test.ts");

const root = new URL("..", import.meta.url).pathname;
const HAS_NODE = (() => {
  try {
    return new Deno.Command("node", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

const bun = await findBun();

type Line = Record<string, number | string>;

// A child whose stdout is JSON lines; `next()` waits (bounded) for the next one.
interface Child extends AsyncDisposable {
  readonly process: Deno.ChildProcess;
  next(ms?: number): Promise<Line>;
  /** Send a line to its stdin. */
  say(line: string): Promise<void>;
}

function spawn(command: string, args: string[], env: Record<string, string> = {}): Child {
  const process = new Deno.Command(command, {
    args,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = process.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
    new TextLineStream(),
  ).getReader();
  const writer = process.stdin.getWriter();
  let exited = false;
  process.status.then(() => exited = true);
  return {
    process,
    async next(ms = 60_000) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`No line from ${command} in ${ms} ms`)), ms);
      });
      try {
        for (let i = 0; i < 1000; i++) {
          const { value, done } = await Promise.race([reader.read(), timeout]);
          if (done) throw new Error(`${command} ended`);
          if (value.startsWith("{")) return JSON.parse(value);
        }
        throw new Error(`No JSON line from ${command}`);
      } finally {
        clearTimeout(timer);
      }
    },
    async say(line) {
      await writer.write(new TextEncoder().encode(line + "\n"));
    },
    async [Symbol.asyncDispose]() {
      if (!exited) {
        try {
          process.kill("SIGKILL");
        } catch { /* gone */ }
      }
      await writer.close().catch(() => {});
      await reader.cancel().catch(() => {});
      await process.status;
    },
  };
}

async function stats(control: number): Promise<{ pid: number; count: number }> {
  const response = await fetch(`http://127.0.0.1:${control}/stats`);
  return await response.json();
}

// The 3 servers of one runtime on `port`: their ready lines, and how to SIGKILL one.
interface Servers extends AsyncDisposable {
  readonly ready: Line[];
  kill(i: number): Promise<void>;
}

async function bundle(entry: string, dir: string): Promise<string> {
  const out = `${dir}/${entry.replace(/\W/g, "_")}.mjs`;
  await run(Deno.execPath(), "bundle", "--quiet", "--platform", "node", "-o", out, root + entry);
  return out;
}

async function launch(runtime: string, port: number, redisUrl: string): Promise<Servers> {
  const env = { PORT: String(port), REDIS_URL: redisUrl };
  const children: Child[] = [];
  const dir = await run("mktemp", "-d", "-t", "websock-processes-XXXXXX");
  const dispose = async () => {
    for (const child of children) await child[Symbol.asyncDispose]();
    await run("rm", "-rf", dir);
  };
  try {
    if (runtime === "node") {
      // One primary, 3 workers: a ready line each; a worker is killed by its pid.
      const file = await bundle("examples/scale/node.ts", dir);
      const primary = spawn("node", [file], { ...env, WORKERS: "3" });
      children.push(primary);
      const ready = [await primary.next(), await primary.next(), await primary.next()];
      return {
        ready,
        async kill(i) {
          Deno.kill(Number(ready[i].pid), "SIGKILL");
          for (let n = 0; n < 200; n++) { // until its control port is gone (bounded)
            const up = await fetch(`http://127.0.0.1:${ready[i].control}/stats`).then(
              (r) => r.body?.cancel().then(() => true),
              () => false,
            );
            if (!up) return;
            await delay(20);
          }
        },
        [Symbol.asyncDispose]: dispose,
      };
    }
    const command = runtime === "bun" ? [bun!, await bundle("examples/scale/bun.ts", dir)] : [
      Deno.execPath(),
      "run",
      "--lock=deno.lock",
      "--unstable-net",
      "--allow-net",
      "--allow-env",
      `${root}examples/scale/deno.ts`,
    ];
    for (let i = 0; i < 3; i++) children.push(spawn(command[0], command.slice(1), env));
    const ready = [];
    for (const child of children) ready.push(await child.next());
    return {
      ready,
      async kill(i) {
        children[i].process.kill("SIGKILL");
        await children[i].process.status;
      },
      [Symbol.asyncDispose]: dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

for (const runtime of ["deno", "bun", "node"]) {
  Deno.test({
    name:
      `examples/scale/${runtime}.ts: 3 processes on one port share a topic over Redis; one SIGKILLed, the others keep their clients and every message`,
    ignore: !HAS_REDIS || !HAS_NODE || (runtime === "bun" && bun === undefined),
    async fn() {
      await using redis = await startRedis();
      const port = freePort();
      await using servers = await launch(runtime, port, redis.url);
      for (const ready of servers.ready) {
        assert.equal(ready.port, port, `every process on the one port: ${JSON.stringify(ready)}`);
      }
      const controls = servers.ready.map((ready) => Number(ready.control));
      await fanOut(port, controls, (i) => servers.kill(i), redis.url);
    },
  });
}

// 2,000 clients over the processes; a publish reaches them all; process 0 is killed, and
// the next publishes reach every client of the others.
async function fanOut(
  port: number,
  controls: number[],
  kill: (i: number) => Promise<void>,
  redisUrl: string,
): Promise<void> {
  const conns = 2000;
  await using client = spawn("node", [
    `${root}bench/fanout_client.mjs`,
    JSON.stringify({ port, conns, concurrency: 32 }),
  ]);
  const setup = await client.next(120_000);
  assert.deepEqual([setup.ready, setup.failed], [conns, 0]);
  // Every connection joined its topic (init subscribed it), and they were spread.
  let counts: number[] = [];
  for (let i = 0; i < 200; i++) {
    counts = await Promise.all(controls.map(async (c) => (await stats(c)).count));
    if (counts.reduce((a, b) => a + b, 0) === conns) break;
    await delay(50);
  }
  assert.equal(counts.reduce((a, b) => a + b, 0), conns, `counts ${counts}`);
  assert.ok(counts.every((n) => n > 0), `every process has clients: ${counts}`);

  // The publisher is another node of the same PubSub network (this test process).
  const errors: unknown[] = [];
  const pubsub = new PubSub<string>({
    backend: new RedisBackend({ url: redisUrl }),
    onError: (e) => errors.push(e),
  });
  try {
    const publish = (round: string) => pubsub.publish("all", `${round}:`.padEnd(32, "x"));
    publish("r0");
    const first = await client.next();
    assert.deepEqual([first.round, first.count], ["r0", conns]);

    // SIGKILL one process; publish at once, while its connections are still being closed.
    await kill(0);
    const survivors = conns - counts[0];
    const rounds = ["r1", "r2", "r3", "r4", "r5"];
    for (const round of rounds) {
      publish(round);
      await delay(20);
    }
    const got = new Map<string, Line>();
    for (let i = 0; i < rounds.length; i++) {
      const line = await client.next().catch(() => undefined);
      if (line === undefined) break;
      got.set(String(line.round), line);
    }
    for (const round of rounds) {
      if (!got.has(round)) {
        await client.say(`report ${round}`);
        got.set(round, await client.next());
      }
      const line = got.get(round)!;
      assert.equal(line.count, survivors, `${round}: ${JSON.stringify(line)}`);
      assert.equal(line.closed, counts[0], `${round}: the victim's clients closed`);
    }
    // The others kept every client.
    const after = await Promise.all(controls.slice(1).map(async (c) => (await stats(c)).count));
    assert.deepEqual(after, counts.slice(1));
    assert.deepEqual(errors, []);
  } finally {
    await pubsub.close();
  }
}
