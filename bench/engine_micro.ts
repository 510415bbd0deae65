// The engine alone, without sockets: ns per echoed message, per mailbox message in a
// broadcast, per connection made, and JS heap per idle engine. Compares source trees:
// `deno run -A --v8-flags=--expose-gc bench/engine_micro.ts [DIR ...]` (default: the repo), or
// under Bun's JavaScriptCore: `bun bench/engine_micro.ts [DIR ...]`. `DIR#metrics` gives the
// engines a Metrics collector as their telemetry, `DIR#timed` one that also times callbacks,
// `DIR#empty` an empty telemetry object (the probe alone). Sources are alternated, PASSES times
// (default 3), each measurement in its own process, and each cell is the median of the
// passes' medians.
// Every loop is bounded in count.

import process from "node:process";
import { execFileSync } from "node:child_process";

declare const Bun: { gc(force: boolean): void } | undefined;

const args = process.argv.slice(2);
const dirs = args.length > 0 ? args : [new URL("..", import.meta.url).pathname];
const PASSES = Number(process.env.PASSES ?? 3);
const gc = (globalThis as { gc?: () => void }).gc ??
  (typeof Bun === "undefined" ? () => {} : () => Bun!.gc(true));
const ROUNDS = 5;

interface Result {
  echoNs: number;
  broadcastNs: number;
  openNs: number;
  heapPerEngine: number;
}

async function measure(source: string): Promise<Result> {
  const [dir, telemetryKind] = source.split("#");
  // The engine entry moved from engine.ts to engine/mod.ts: compare either layout.
  const entry = await Deno.stat(`${dir}/engine/mod.ts`).then(
    () => "engine/mod.ts",
    () => "engine.ts",
  );
  const { Engine, resolveEngineOptions } = await import(`${dir}/${entry}`);
  const { ok, push } = await import(`${dir}/mod.ts`);
  let pending = 0;
  let done: () => void = () => {};
  const Echo = {
    init: () => ok(null),
    handleIn: (data: unknown, state: unknown) => push(data, state),
    handleInfo: (message: unknown, state: unknown) => {
      if (--pending === 0) done();
      return push(message, state);
    },
  };
  const transport = {
    sendText: () => {},
    sendBinary: () => {},
    close: () => {},
    bufferedAmount: () => 0,
  };
  const telemetry = telemetryKind === undefined
    ? undefined
    : telemetryKind === "empty"
    ? {}
    : new (await import(`${dir}/telemetry/mod.ts`)).Metrics({
      callbackDurations: telemetryKind === "timed",
    });
  const options = resolveEngineOptions({ telemetry });
  const headers = new Headers({ host: "127.0.0.1", upgrade: "websocket" });
  const info = { url: "ws://127.0.0.1/", headers, remoteAddr: null, protocol: "" };
  const make = () => {
    const engine = new Engine(Echo, transport, { arg: undefined, info, options });
    engine.open();
    return engine;
  };
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];

  // Echo: 16 engines, 200,000 messages round robin.
  const echo: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const engines = Array.from({ length: 16 }, make);
    const start = performance.now();
    for (let i = 0; i < 200_000; i++) engines[i & 15].receive("x".repeat(0) + "hello");
    echo.push((performance.now() - start) * 1e6 / 200_000);
    for (const engine of engines) engine.closed(1000, "");
  }

  // Broadcast through the mailbox: 5,000 engines, one send each, until all pushed; 200 rounds,
  // so that the median is optimized code (the first few dozen rounds are not).
  const engines = Array.from({ length: 5000 }, make);
  const broadcast: number[] = [];
  for (let r = 0; r < ROUNDS * 40; r++) {
    const finished = new Promise<void>((resolve) => done = resolve);
    pending = engines.length;
    const start = performance.now();
    for (const engine of engines) engine.connection.send("news");
    await finished;
    broadcast.push((performance.now() - start) * 1e6 / engines.length);
  }
  for (const engine of engines) engine.closed(1000, "");

  // Open and close, and heap per idle engine.
  const open: number[] = [];
  const heap: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    const start = performance.now();
    const idle = Array.from({ length: 5000 }, make);
    open.push((performance.now() - start) * 1e6 / idle.length);
    gc();
    gc();
    heap.push((process.memoryUsage().heapUsed - before) / idle.length);
    for (const engine of idle) engine.closed(1000, "");
    idle.length = 0;
  }
  return {
    echoNs: median(echo),
    broadcastNs: median(broadcast),
    openNs: median(open),
    heapPerEngine: median(heap),
  };
}

// Each measurement runs in a process of its own (`--child SOURCE` prints one JSON result), so
// that one tree's code never shares a JIT, heap or inline caches with another's.
if (args[0] === "--child") {
  console.log(JSON.stringify(await measure(args[1])));
  process.exit(0);
}

function inChild(source: string): Result {
  const self = new URL(import.meta.url).pathname;
  const args = typeof Bun === "undefined"
    ? ["run", "-A", "--v8-flags=--expose-gc", self, "--child", source]
    : [self, "--child", source];
  const stdout = execFileSync(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const lines = stdout.toString().trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

console.log("| sources | echo ns/msg | mailbox broadcast ns/conn | open ns/conn | heap B/engine |");
console.log("| --- | ---: | ---: | ---: | ---: |");
const results = new Map<string, Result[]>(dirs.map((dir) => [dir, []]));
for (let pass = 0; pass < PASSES; pass++) {
  for (const dir of dirs) results.get(dir)!.push(inChild(dir));
}
const mid = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
for (const dir of dirs) {
  const all = results.get(dir)!;
  const r: Result = {
    echoNs: mid(all.map((x) => x.echoNs)),
    broadcastNs: mid(all.map((x) => x.broadcastNs)),
    openNs: mid(all.map((x) => x.openNs)),
    heapPerEngine: mid(all.map((x) => x.heapPerEngine)),
  };
  console.log(
    `| ${dir} | ${r.echoNs.toFixed(0)} | ${r.broadcastNs.toFixed(0)} | ${r.openNs.toFixed(0)} | ${
      r.heapPerEngine.toFixed(0)
    } |`,
  );
}
