// Channels against the plain WebSock they are built on (a scenario, not a test):
//
//   deno run -A bench/channels_bench.ts                     # 5,000 subscribers, 3 rounds
//   deno run -A bench/channels_bench.ts --conns=5000 --rounds=5 --reps=5 --window=2000 --out=FILE
//
// 1. Broadcast of a 100 B payload to N joined channels (one topic, `app.broadcast`) vs the
//    plain pub/sub fastlane to N connections (`pubsub.publish` with `encode`): the server's CPU
//    time (all threads, /proc/PID/task/*/schedstat) from the request until the client has
//    every copy, and the delivery time the client sees. A fresh server per round, the two
//    modes alternated; `reps` broadcasts per round after `warmups`.
// 2. Memory per idle connection from the same rounds: RSS and JS heap after a forced GC, before
//    and after opening N connections (channels: each joined to one channel), next to plain
//    connections (no pub/sub) from a third kind of round.
// 3. Push/reply round trips (channels, `reply("ok", payload)`) vs a WebSock echo, one in flight
//    per connection, at 16 and 256 connections, for `window` ms: round trips per second and
//    the server's CPU per round trip.
// Server (bench/channels_server.ts) pinned to core 0, client (bench/channels_client.ts) to
// core 1 when taskset exists. Medians; every child has a time limit.

import { TextLineStream } from "./_lines.ts";

const arg = (name: string, fallback: string): string =>
  Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const conns = Number(arg("conns", "5000"));
const rounds = Number(arg("rounds", "3"));
const reps = Number(arg("reps", "5"));
const warmups = Number(arg("warmups", "2"));
const windowMs = Number(arg("window", "2000"));
const rttConns = arg("rtt", "16,256").split(",").map(Number);
const output = arg("out", "");
const here = new URL(".", import.meta.url).pathname;

async function sh(command: string): Promise<string> {
  const out = await new Deno.Command("sh", { args: ["-c", command], stderr: "null" }).output();
  return new TextDecoder().decode(out.stdout).trim();
}
const taskset = (await sh("command -v taskset")) !== "" && navigator.hardwareConcurrency >= 2;
const pin = (core: number) => taskset ? `taskset -c ${core} ` : "";
const hardLimit = Number(await sh("ulimit -Hn"));

function spawn(command: string): Deno.ChildProcess {
  return new Deno.Command("sh", {
    args: ["-c", `ulimit -n ${hardLimit}; exec ${command}`],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

function lines(child: Deno.ChildProcess): () => Promise<Record<string, number | string>> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
    new TextLineStream(),
  ).getReader();
  return async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error("child ended");
      if (value.startsWith("{")) return JSON.parse(value);
    }
  };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => timer = setTimeout(() => reject(new Error(what)), ms)),
  ]).finally(() => clearTimeout(timer));
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  try {
    await child.stdin.close();
  } catch { /* gone */ }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 10_000);
  await child.status;
  clearTimeout(timer);
}

async function write(child: Deno.ChildProcess, line: string): Promise<void> {
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(line + "\n"));
  writer.releaseLock();
}

function cpuMs(pid: number): number {
  let ns = 0;
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/schedstat`).split(" ")[0]);
    } catch { /* the thread ended */ }
  }
  return ns / 1e6;
}

async function get(port: number, path: string): Promise<Record<string, number>> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return await response.json();
}

const samples = new Map<string, number[]>();
const record = (key: string, value: number) => {
  if (!samples.has(key)) samples.set(key, []);
  samples.get(key)!.push(value);
};
const median = (key: string): number => {
  const sorted = (samples.get(key) ?? []).filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function server(): Promise<[Deno.ChildProcess, number]> {
  const child = spawn(`${pin(0)}deno run -A --v8-flags=--expose-gc ${here}channels_server.ts`);
  const { port } = await within(lines(child)(), 30_000, "server start");
  return [child, port as number];
}

function client(config: Record<string, unknown>): Deno.ChildProcess {
  return spawn(`${pin(1)}deno run -A ${here}channels_client.ts '${JSON.stringify(config)}'`);
}

// One fan-out round: a fresh server, N connections of one mode, memory, then the broadcasts.
async function fanRound(mode: "channels" | "fast" | "plain", r: number): Promise<void> {
  const [srv, port] = await server();
  const cli = client({ port, mode, task: "fan", conns });
  try {
    const read = lines(cli);
    const before = await get(port, "/stats");
    const { ready } = await within(read(), 300_000, "connections") as { ready: number };
    const key = mode === "channels" ? "channels" : mode === "fast" ? "fast" : "open";
    for (let i = 0; i < 400 && (await get(port, "/count"))[key] < ready; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = await get(port, "/stats");
    record(`${mode}|rss`, (after.rss - before.rss) / ready);
    record(`${mode}|heap`, (after.heap - before.heap) / ready);
    console.error(
      `${mode} round ${r}: ${ready} conns, ${
        ((after.rss - before.rss) / ready / 1024).toFixed(2)
      } KiB RSS/conn`,
    );
    if (mode === "plain") return;
    for (let rep = -warmups; rep < reps; rep++) {
      const round = `r${r}x${rep + warmups}`;
      const cpu0 = cpuMs(srv.pid);
      const start = performance.timeOrigin + performance.now();
      const fan = await get(port, `/fan?mode=${mode}&round=${round}&size=100`);
      const report = await within(read(), 60_000, `round ${round}`);
      const cpu = cpuMs(srv.pid) - cpu0;
      if (report.count !== ready || report.round !== round) {
        throw new Error(`round ${round}: ${JSON.stringify(report)}`);
      }
      if (rep >= 0) {
        record(`${mode}|cpu`, cpu);
        record(`${mode}|delivery`, Number(report.last) - start);
        record(`${mode}|sync`, fan.syncMs);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await stop(cli);
    await stop(srv);
  }
}

// Round trips at `n` connections for one mode, on a running server.
async function rttRun(port: number, pid: number, mode: "channels" | "plain", n: number) {
  const cli = client({ port, mode, task: "rtt", conns: n });
  try {
    const read = lines(cli);
    await within(read(), 60_000, "rtt connections");
    const cpu0 = cpuMs(pid);
    await write(cli, `go ${windowMs}`);
    const { count, ms } = await within(read(), windowMs + 30_000, "rtt window") as {
      count: number;
      ms: number;
    };
    const cpu = cpuMs(pid) - cpu0;
    record(`rtt|${mode}|${n}|rate`, count / (ms / 1000));
    record(`rtt|${mode}|${n}|cpu`, (cpu * 1000) / count); // µs per round trip
  } finally {
    await stop(cli);
  }
}

const started = performance.now();
const load = await Deno.readTextFile("/proc/loadavg");
for (let r = 0; r < rounds; r++) {
  const modes = ["channels", "fast", "plain"] as const;
  for (const mode of r % 2 === 0 ? modes : [...modes].reverse()) await fanRound(mode, r);
  const [srv, port] = await server();
  try {
    for (const n of rttConns) {
      const pair = ["channels", "plain"] as const;
      for (const mode of r % 2 === 0 ? pair : [...pair].reverse()) {
        await rttRun(port, srv.pid, mode, n);
      }
    }
  } finally {
    await stop(srv);
  }
}

const fmt = (v: number, digits = 2) =>
  !Number.isFinite(v)
    ? "–"
    : Math.abs(v) >= 100
    ? Math.round(v).toLocaleString("en-US")
    : v.toFixed(digits);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const n = conns.toLocaleString("en-US");

const rows = [
  `| broadcast of 100 B to ${n} | server CPU ms | sync ms | client delivery ms | CPU ratio |`,
  "| --- | ---: | ---: | ---: | ---: |",
  `| pub/sub fastlane (plain WebSock) | ${fmt(median("fast|cpu"))} | ${
    fmt(median("fast|sync"))
  } | ${fmt(median("fast|delivery"))} | 1.00× |`,
  `| channels: app.broadcast | ${fmt(median("channels|cpu"))} | ${fmt(median("channels|sync"))} | ${
    fmt(median("channels|delivery"))
  } | ${ratio(median("channels|cpu"), median("fast|cpu"))} |`,
  "",
  `| idle, ${n} connections | RSS per conn | heap per conn |`,
  "| --- | ---: | ---: |",
  ...(["plain", "fast", "channels"] as const).map((mode) =>
    `| ${
      {
        plain: "plain WebSock connection",
        fast: "+ fastlane subscription",
        channels: "channels: socket + 1 joined channel",
      }[mode]
    } | ${fmt(median(`${mode}|rss`) / 1024)} KiB | ${fmt(median(`${mode}|heap`) / 1024)} KiB |`
  ),
  "",
  "| round trips, one in flight per connection | round trips/s | server CPU µs per round trip | rate ratio | CPU ratio |",
  "| --- | ---: | ---: | ---: | ---: |",
];
for (const c of rttConns) {
  const plainRate = median(`rtt|plain|${c}|rate`), plainCpu = median(`rtt|plain|${c}|cpu`);
  const chRate = median(`rtt|channels|${c}|rate`), chCpu = median(`rtt|channels|${c}|cpu`);
  rows.push(
    `| ${c} conns: WebSock echo | ${fmt(plainRate)} | ${fmt(plainCpu)} | 1.00× | 1.00× |`,
    `| ${c} conns: channels push/reply | ${fmt(chRate)} | ${fmt(chCpu)} | ${
      ratio(plainRate, chRate)
    } slower | ${ratio(chCpu, plainCpu)} |`,
  );
}

const report = `## Channels (bench/channels_bench.ts)

${new Date().toISOString()}, ${((performance.now() - started) / 1000).toFixed(0)} s; load average
before: ${load.split(" ").slice(0, 3).join(" ")}. Command: \`deno run -A bench/channels_bench.ts ${
  Deno.args.join(" ")
}\`. ${rounds} rounds (modes alternated, a fresh server per broadcast round), ${reps} broadcasts
per mode per round after ${warmups} warm-ups, round-trip windows of ${windowMs} ms; medians.
Server ${taskset ? "pinned to core 0, client (Deno's WebSocket) to core 1" : "not pinned"}.

${rows.join("\n")}
`;
console.log(report);
if (output) await Deno.writeTextFile(output, report);
