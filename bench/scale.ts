// Scale across processes (a scenario, not a test): C WebSocket connections to S server
// processes of examples/scale/{deno,bun}.ts on one port (reusePort), joined by Redis pub/sub,
// from client processes (bench/fanout_client.mjs under Node) bound to 127.0.0.2, 127.0.0.3, ...
//
//   deno run -A bench/scale.ts --runtime=deno,bun --conns=100000 --servers=7 --publishes=20
//   deno run -A bench/scale.ts --conns=4000 --servers=2 --sources=2 --publishes=4   # a smoke
//
// Per runtime: a fresh redis-server (127.0.0.1, a free port) and S fresh servers; limits are
// checked first (descriptors per process, ephemeral ports per source address, memory) and the
// run says what it could open. Then:
// 1. connect: every client process opens its share at once; connect rate = C / wall time.
// 2. memory: each server's RSS after a GC, before and after; per connection = the growth / C
//    (each connection holds one subscription, to topic "all").
// 3. one topic: P publishes of 32 B to "all" (from this process, a node of the same PubSub
//    network over Redis), each timed from the publish until the last of the C clients has it;
//    handleInfo ("mail") and the fastlane ("fast") alternate in blocks (/lane on every
//    server), a warm-up publish after each switch. Server CPU = all servers' CPU time
//    (/proc/PID/task/*/schedstat) over the round, per delivered message.
// 4. 100 topics: the connections move to t0…t99 (/topics?n=100, ~C/100 each); a round
//    publishes one message to each of the 100 topics; timed until every client has its one.
// 5. fault: one server SIGKILLed, then 5 publishes to every topic: every client of the others
//    must have each (none lost), their connection counts unchanged.
// Every wait is bounded; every child has a time limit and is killed at the end.

import { PubSub } from "../pubsub/mod.ts";
import { RedisBackend } from "../pubsub/redis.ts";
import {
  cpuMs,
  lines,
  median,
  openClients,
  percentile,
  roundReports,
  sh,
  stop,
  within,
} from "./_procs.ts";

const arg = (name: string, fallback: string): string =>
  Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const runtimes = arg("runtime", "deno").split(",");
let conns = Number(arg("conns", "100000"));
const servers = Number(arg("servers", "7"));
const sources = Number(arg("sources", "8"));
const publishes = Number(arg("publishes", "20"));
const topicCount = Number(arg("topics", "100"));
const block = Number(arg("block", "5")); // publishes per lane before switching
const output = arg("out", "");
const root = new URL("..", import.meta.url).pathname;
function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
const bunPath = [Deno.env.get("WEBSOCK_BUN"), `${root}node_modules/.bin/bun`].find((p) =>
  p !== undefined && exists(p)
);

// Limits first.
const hardLimit = Number(await sh("ulimit -Hn"));
const [portLow, portHigh] = (await Deno.readTextFile("/proc/sys/net/ipv4/ip_local_port_range"))
  .trim().split(/\s+/).map(Number);
const memAvailable = Number(
  (await Deno.readTextFile("/proc/meminfo")).match(/MemAvailable:\s+(\d+)/)?.[1] ?? 0,
) * 1024;
const perServerMax = hardLimit - 500; // the listener, Redis, control, stdio, headroom
// The clients bind their source ports themselves below the ephemeral range (1024 to portLow - 1,
// bench/fanout_client.mjs), leaving that range to the machine's other connections.
const perSourceMax = Math.min(hardLimit - 200, portLow - 1024 - 500);
// The kernel spreads connections over the servers by a hash, unevenly (seen: ±20 % at 1,000
// each): allow 30 % over the average.
const serverCap = Math.floor(servers * perServerMax / 1.3);
const sourceCap = sources * perSourceMax;
const notes: string[] = [];
if (conns > serverCap || conns > sourceCap) {
  const capped = Math.min(serverCap, sourceCap);
  notes.push(
    `${conns} connections exceed what ${servers} servers (${perServerMax} each) and ${sources} sources (${perSourceMax} each) can hold: capped to ${capped}`,
  );
  conns = capped;
}
const perClient = Math.ceil(conns / sources);
const limits = `ulimit -Hn ${hardLimit} (per process: servers hold ≤ ${perServerMax}, ` +
  `${conns / servers | 0} on average); ephemeral ports ${portLow}-${portHigh}, left alone: ` +
  `the clients bind 1024-${
    portLow - 1
  } (${perClient} used on each of ${sources} source addresses); ` +
  `MemAvailable ${(memAvailable / 2 ** 30).toFixed(1)} GiB`;
console.error(limits);
for (const note of notes) console.error(note);
if (memAvailable > 0 && memAvailable < conns * 40 * 1024) {
  console.error(`Warning: ${conns} connections may need ~${conns * 40 / 2 ** 20 | 0} GiB`);
}

function spawn(command: string, env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command("sh", {
    args: ["-c", `ulimit -n ${hardLimit}; exec ${command}`],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
    env,
  }).spawn();
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function get(port: number, path: string): Promise<Record<string, number | string>> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return await response.json();
}

const wall = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startRedis(): Promise<{ url: string; child: Deno.ChildProcess }> {
  const port = freePort();
  const child = new Deno.Command("redis-server", {
    args: ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no"],
    stdout: "null",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  for (let i = 0; i < 100; i++) {
    const pong = await sh(`redis-cli -p ${port} PING 2>/dev/null`);
    if (pong === "PONG") return { url: `redis://127.0.0.1:${port}`, child };
    await sleep(50);
  }
  child.kill("SIGKILL");
  throw new Error("redis-server did not start");
}

async function serverCommand(runtime: string): Promise<string> {
  if (runtime === "deno") {
    return `${Deno.execPath()} run --lock=${root}deno.lock --unstable-net -A --v8-flags=--expose-gc ${root}examples/scale/deno.ts`;
  }
  if (runtime === "bun") {
    if (!bunPath) throw new Error("No bun (WEBSOCK_BUN, or node_modules/.bin/bun)");
    const file = "/tmp/websock-scale-bun.mjs";
    const { success } = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "node", "-o", file, `${root}examples/scale/bun.ts`],
    }).output();
    if (!success) throw new Error("deno bundle of examples/scale/bun.ts failed");
    return `${bunPath} ${file}`;
  }
  throw new RangeError(`Unknown runtime ${runtime}`);
}

interface Round {
  latency: number; // ms from the first publish to the last client's receipt
  cpu: number; // ms of server CPU over the round
  received: number;
}

interface RuntimeResult {
  runtime: string;
  opened: number;
  failed: number;
  connectMs: number;
  perServer: number[];
  rssBefore: number[];
  rssAfter: number[];
  rounds: Map<string, Round[]>; // "1 topic mail", "100 topics fast", ...
  topicSizes: [number, number];
  fault: string;
}

async function runtimeRun(runtime: string): Promise<RuntimeResult> {
  const redis = await startRedis();
  const port = freePort();
  const env = { PORT: String(port), REDIS_URL: redis.url, TIMEOUT: "0" };
  const command = await serverCommand(runtime);
  const serverProcs: Deno.ChildProcess[] = [];
  const clients: Deno.ChildProcess[] = [];
  const pubsub = new PubSub<string>({
    backend: new RedisBackend({ url: redis.url }),
    onError: (error) => console.error("bench pub/sub:", error),
  });
  try {
    for (let i = 0; i < servers; i++) serverProcs.push(spawn(command, env));
    const ready = await within(
      Promise.all(serverProcs.map((child) => lines(child)())),
      60_000,
      "servers start",
    );
    const controls = ready.map((line) => Number(line.control));
    const pids = ready.map((line) => Number(line.pid));
    const stats = () => Promise.all(controls.map((c) => get(c, "/stats")));
    const rssBefore = (await stats()).map((s) => Number(s.rss));

    // 1. Connect.
    const opening = await openClients(spawn, { port, conns, sources, concurrency: 128 });
    clients.push(...opening.clients);
    const { readers, ready: opened, failed, ms: connectMs } = opening;
    console.error(`${runtime}: ${opened} open, ${failed} failed in ${connectMs.toFixed(0)} ms`);
    let perServer: number[] = [];
    for (let i = 0; i < 600; i++) { // every connection subscribed (bounded: 60 s)
      perServer = (await stats()).map((s) => Number(s.count));
      if (perServer.reduce((a, b) => a + b, 0) >= opened) break;
      await sleep(100);
    }
    await sleep(1000);
    const rssAfter = (await stats()).map((s) => Number(s.rss));
    console.error(`${runtime}: per server ${perServer.join(", ")}`);

    // A round: publish to every topic, wait for every client's report of it.
    const rounds = new Map<string, Round[]>();
    let seq = 0;
    const round = async (topics: string[], label?: string): Promise<Round> => {
      const id = `${runtime[0]}${seq++}`;
      const message = `${id}:`.padEnd(32, "x");
      const cpu0 = pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
      const start = wall();
      for (const topic of topics) pubsub.publish(topic, message);
      let reports = await roundReports({ clients, readers }, id);
      reports = reports.filter((r) => r.round === id || r.partial);
      const cpu = pids.reduce((sum, pid) => sum + cpuMs(pid), 0) - cpu0;
      const last = Math.max(...reports.map((r) => Number(r.last)));
      const received = reports.reduce((sum, r) => sum + Number(r.count), 0);
      const result = { latency: last - start, cpu, received };
      if (label) {
        if (!rounds.has(label)) rounds.set(label, []);
        rounds.get(label)!.push(result);
      }
      console.error(`  ${label ?? "warm-up"} ${id}: ${JSON.stringify(result)}`);
      await sleep(200);
      return result;
    };
    const lanes = async (topics: string[], scenario: string) => {
      for (let b = 0; b < 2 * Math.ceil(publishes / block); b++) {
        const lane = b % 2 === 0 ? "mail" : "fast";
        await Promise.all(controls.map((c) => get(c, `/lane?mode=${lane}`)));
        await round(topics); // warm-up after the switch
        for (let i = 0; i < block; i++) await round(topics, `${scenario} ${lane}`);
      }
    };

    // 3. One topic.
    await lanes(["all"], "1 topic");
    // 4. 100 topics.
    await Promise.all(controls.map((c) => get(c, `/topics?n=${topicCount}`)));
    await sleep(2000); // the SUBSCRIBEs of the new topics
    const topics = Array.from({ length: topicCount }, (_, i) => `t${i}`);
    const perTopic = perServer.map((n) => n / topicCount);
    const topicSizes: [number, number] = [
      Math.round(perTopic.reduce((a, b) => a + Math.floor(b), 0)),
      Math.round(perTopic.reduce((a, b) => a + Math.ceil(b), 0)),
    ];
    await lanes(topics, `${topicCount} topics`);

    // 5. Fault: SIGKILL server 0, publish 5 rounds at once.
    serverProcs[0].kill("SIGKILL");
    await serverProcs[0].status;
    const survivors = opened - perServer[0];
    const after: Round[] = [];
    for (let i = 0; i < 5; i++) after.push(await round(topics));
    const kept = (await Promise.all(controls.slice(1).map((c) => get(c, "/stats")))).map((s) =>
      Number(s.count)
    );
    const lost = after.filter((r) => r.received !== survivors).length;
    const fault = `server 0 (${perServer[0]} connections) SIGKILLed: ${
      lost === 0 ? "all" : `${5 - lost} of`
    } 5 following rounds reached all ${survivors} clients of the others (received: ${
      after.map((r) => r.received).join(", ")
    }); their counts ${
      kept.join(", ") === perServer.slice(1).join(", ") ? "unchanged" : `changed: ${kept}`
    }`;
    console.error(fault);
    return {
      runtime,
      opened,
      failed,
      connectMs,
      perServer,
      rssBefore,
      rssAfter,
      rounds,
      topicSizes,
      fault,
    };
  } finally {
    await pubsub.close();
    await Promise.all(clients.map(stop));
    for (const child of serverProcs) {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
    }
    await Promise.all(serverProcs.map(stop));
    redis.child.kill("SIGKILL");
    await redis.child.status;
  }
}

const started = performance.now();
const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
const fmt = (v: number, digits = 2) =>
  !Number.isFinite(v)
    ? "–"
    : Math.abs(v) >= 100
    ? Math.round(v).toLocaleString("en-US")
    : v.toFixed(digits);
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
function table(r: RuntimeResult): string {
  const rss = sum(r.rssAfter), growth = rss - sum(r.rssBefore);
  const rows = [
    `**${r.runtime}**: ${r.opened.toLocaleString("en-US")} of ${
      conns.toLocaleString("en-US")
    } connections held (${r.failed} failed) over ${servers} processes (${
      r.perServer.join(", ")
    }), opened in ${(r.connectMs / 1000).toFixed(1)} s: **${
      fmt(r.opened / (r.connectMs / 1000))
    } conn/s**. Server RSS **${fmt(rss / 2 ** 30)} GiB** in all (${
      fmt(sum(r.rssBefore) / 2 ** 20)
    } MiB before any connection), **${fmt(growth / r.opened / 1024)} KiB per connection** ` +
    `(one subscription each). ${topicCount} topics: ${r.topicSizes[0]}–${
      r.topicSizes[1]
    } connections each. Fault: ${r.fault}.`,
    "",
    "| scenario, lane | publishes | publish → last client p50 | p99 | server CPU per delivered message | deliveries per round |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const [label, samples] of r.rounds) {
    const latency = samples.map((s) => s.latency);
    const cpuPer = samples.map((s) => s.cpu * 1000 / s.received);
    rows.push(
      `| ${
        label.replace(" mail", ", handleInfo").replace(" fast", ", fastlane")
      } | ${samples.length} | ${fmt(percentile(latency, 50))} ms | ${
        fmt(percentile(latency, 99))
      } ms | ${fmt(median(cpuPer))} µs | ${fmt(median(samples.map((s) => s.received)))} |`,
    );
  }
  return rows.join("\n");
}
const results: RuntimeResult[] = [];
const failures: string[] = [];
const loads: string[] = [];
for (const runtime of runtimes) {
  try {
    results.push(await runtimeRun(runtime));
    console.error(table(results.at(-1)!)); // at once: a later runtime may fail
  } catch (error) {
    failures.push(`**${runtime}**: the run failed: ${(error as Error)?.message ?? error}`);
    console.error(failures.at(-1));
  }
  loads.push(`${runtime} ${(await Deno.readTextFile("/proc/loadavg")).split(" ")[0]}`);
}

const tables = [...results.map(table), ...failures];

const report = `## Scale across processes (bench/scale.ts)

${new Date().toISOString()}, ${((performance.now() - started) / 1000).toFixed(0)} s; load average
before: ${load}, 1-minute load after each runtime: ${loads.join(", ")} (2 cores; the load is
mostly other processes of the machine). Command: \`deno run -A bench/scale.ts ${
  Deno.args.join(" ")
}\`. ${limits}.${
  notes.map((n) => ` ${n}.`).join("")
} Servers: examples/scale/<runtime>.ts × ${servers} on one port (reusePort), Redis pub/sub
(one redis-server), keep-alive off (TIMEOUT=0) during the run. Clients: bench/fanout_client.mjs under Node,
${sources} processes on 127.0.0.2–${1 + sources}. The publisher is this process (a PubSub node
over the same Redis). p99 is the nearest rank: with fewer than 100 publishes per row, their
largest. "server CPU" is all servers' CPU time over the round divided by the deliveries.

${tables.join("\n\n")}
`;
console.log(report);
if (output) await Deno.writeTextFile(output, report);
