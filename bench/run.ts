// The benchmark runner: `deno task bench` (quick, < 3 min) or
// `deno run -A bench/run.ts --full` (see bench/README.md). Starts each contestant's server on
// 127.0.0.1:0 (pinned to core 0 with taskset when there is one), drives it with
// bench/client.mjs in its own process (core 1), alternates contestants run by run, and writes
// medians with min–max and the ratio to the contestant's raw server (raw Deno, Node + ws or
// Bun.serve) to bench/RESULTS.md (`--full`) or bench/out/quick.md (git-ignored; quick runs must
// not overwrite the recorded results and their addenda).

import { TextLineStream } from "./_lines.ts";

const args = new Set(Deno.args);
const full = args.has("--full");
const argValue = (name: string, fallback: string): string =>
  Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;

const here = new URL(".", import.meta.url).pathname;
const deps = Deno.env.get("WS_DEPS") ?? "/tmp/wsb-deps";
const runs = Number(argValue("runs", full ? "5" : "3"));
const duration = Number(argValue("duration", full ? "2000" : "700"));
const warmup = full ? 500 : 250;
// Quick: each adapter against its own raw server. Full: every contestant.
const denoContestants = ["raw", "websock", "websock-node", "crossws", "hono"];
const nodeContestants = ["node-raw", "websock-node-real"];
const bunContestants = ["bun-raw", "websock-bun"];
const contestants = argValue(
  "contestants",
  (full
    ? [...denoContestants, ...nodeContestants, ...bunContestants]
    : ["raw", "websock", ...nodeContestants, ...bunContestants]).join(","),
).split(",");
// The raw server each contestant is compared with.
// `websock-node-real=DIR` and `websock-bun=DIR` run DIR/bench/*_server.ts: a whole scratch copy.
const kind = (name: string): string => name.split("=")[0];
const isNode = (name: string): boolean => nodeContestants.includes(kind(name));
const isBun = (name: string): boolean => bunContestants.includes(kind(name));
const baselineOf = (name: string): string =>
  isNode(name) ? "node-raw" : isBun(name) ? "bun-raw" : "raw";
const rawLabel: Record<string, string> = {
  raw: "raw Deno",
  "node-raw": "raw Node + ws",
  "bun-raw": "raw Bun.serve",
};
const clientKind = argValue("client", "bun");
const output = argValue("out", full ? `${here}RESULTS.md` : `${here}out/quick.md`);

// Deno contestants are served by bench/server.ts: `websock-node` is adapters/node.ts on Deno's
// node:http; `websock=DIR` measures a scratch copy of the sources. `node-raw` and
// `websock-node-real` by bench/node_server.ts (bundled) under Node, `bun-raw` and `websock-bun`
// by bench/bun_server.ts under Bun.

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function run(cmd: string[]): Promise<string> {
  const out = await new Deno.Command(cmd[0], { args: cmd.slice(1), stderr: "null" }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

// Dependencies (npm only): ws for the Node client, bun for the Bun client and Bun servers,
// bufferutil for ws in the Node servers (optional: its absence is reported).
const wanted = { ws: "ws@8", ".bin/bun": "bun@1.4.4", bufferutil: "bufferutil@4" };
const missing: string[] = [];
for (const [path, spec] of Object.entries(wanted)) {
  if (!await exists(`${deps}/node_modules/${path}`)) missing.push(spec);
}
if (missing.length > 0) {
  await Deno.mkdir(deps, { recursive: true });
  const npm = new Deno.Command("npm", {
    args: ["install", "--prefix", deps, "--no-audit", "--no-fund", "ws@8", "bun@1.4.4", ...missing],
    stdout: "null",
  });
  await npm.output();
}

// The Node servers are TypeScript: bundle them once, next to the dependencies' node_modules so
// that ws finds bufferutil.
const nodeBundles = new Map<string, string>();
for (const [i, name] of contestants.filter(isNode).entries()) {
  const dir = name.split("=")[1];
  const bundle = `${deps}/bench_node_server_${i}.mjs`;
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "node",
      "-o",
      bundle,
      dir ? `${dir}/bench/node_server.ts` : `${here}node_server.ts`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`deno bundle failed: ${new TextDecoder().decode(stderr)}`);
  nodeBundles.set(name, bundle);
}

const taskset = await exists("/usr/bin/taskset") && navigator.hardwareConcurrency >= 2;
const pin = (core: number): string => taskset ? `exec taskset -c ${core}` : "exec";
const bun = `${deps}/node_modules/.bin/bun`;
const clientCmd: Record<string, string> = {
  bun: `${bun} ${here}client.mjs`,
  node: `node ${here}client.mjs`,
  deno: `deno run -A ${here}client.mjs`,
};

function shell(command: string, env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command("sh", {
    args: ["-c", `ulimit -n $(ulimit -Hn) 2>/dev/null; ${command}`],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
    env: { WS_DEPS: deps, ...env },
  }).spawn();
}

interface Server {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  readonly child: Deno.ChildProcess;
}

async function firstLine(child: Deno.ChildProcess): Promise<string> {
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
    new TextLineStream(),
  );
  const reader = lines.getReader();
  const timer = setTimeout(() => reader.cancel(), 30_000);
  const { value } = await reader.read();
  clearTimeout(timer);
  reader.releaseLock();
  return value ?? "";
}

let bufferutil: boolean | undefined;

async function startServer(name: string): Promise<Server> {
  const dir = name.split("=")[1];
  const command = isNode(name)
    ? `node --expose-gc ${nodeBundles.get(name)} ${kind(name)}`
    : isBun(name)
    ? `${bun} ${dir ? `${dir}/bench/` : here}bun_server.ts ${kind(name)}`
    : `deno run -A --v8-flags=--expose-gc ${here}server.ts ${name}`;
  const child = shell(`${pin(0)} ${command}`);
  const line = await firstLine(child);
  const started = JSON.parse(line);
  if (typeof started.bufferutil === "boolean") bufferutil = started.bufferutil;
  return { name, port: started.port, pid: started.pid, child };
}

async function stopServer(server: Server): Promise<void> {
  try {
    await server.child.stdin.close();
  } catch { /* already gone */ }
  const timer = setTimeout(() => {
    try {
      server.child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, 5000);
  await server.child.status;
  clearTimeout(timer);
}

function cpuTicks(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime + stime, in 1/100 s
  } catch {
    return NaN;
  }
}

type Result = Record<string, number>;

// Run the client once; sample the server's CPU over the client's measured window.
async function client(config: Record<string, unknown>, serverPid: number): Promise<Result> {
  const child = shell(`${pin(1)} ${clientCmd[clientKind]} '${JSON.stringify(config)}'`);
  await child.stdin.close();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
    new TextLineStream(),
  );
  let startTicks = NaN, startTime = 0, serverCpu = NaN;
  let result: Result = {};
  const killer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  for await (const line of lines) {
    if (line.trim() === "") continue;
    const message = JSON.parse(line);
    if (message.phase === "start") {
      startTicks = cpuTicks(serverPid);
      startTime = performance.now();
    } else if (message.phase === "end") {
      serverCpu = (cpuTicks(serverPid) - startTicks) * 10 / (performance.now() - startTime);
    } else result = message;
  }
  await child.status;
  clearTimeout(killer);
  if (result.error) throw new Error(`Client failed: ${result.error}`);
  return { ...result, serverCpu };
}

interface Scenario {
  readonly id: string;
  readonly title: string;
  readonly metric: string; // the key of the client's result
  readonly unit: string;
  readonly higherIsBetter: boolean;
  readonly fresh: boolean; // a new server per run (memory, broadcast)
  readonly config: Record<string, unknown>;
}

const scenarios: Scenario[] = [];
const echoConfigs = full
  ? [
    [32, false, 16, 1],
    [32, false, 16, 32],
    [32, false, 256, 1],
    [32, false, 256, 32],
    [16384, true, 16, 1],
    [16384, true, 16, 32],
    [16384, true, 256, 1],
    [16384, true, 256, 32],
  ] as const
  : [[32, false, 16, 1], [32, false, 16, 32], [32, false, 256, 1], [16384, true, 16, 32]] as const;
for (const [size, binary, conns, inflight] of echoConfigs) {
  const label = binary ? "16 KiB binary" : `${size} B text`;
  scenarios.push({
    id: `echo-${size}-${conns}-${inflight}`,
    title: `echo ${label}, ${conns} conns, ${inflight} in flight`,
    metric: "rate",
    unit: "msg/s",
    higherIsBetter: true,
    fresh: false,
    config: { mode: "echo", size, binary, conns, inflight, warmup, duration },
  });
}
for (const metric of ["p50", "p99"]) {
  scenarios.push({
    id: `latency-${metric}`,
    title: `round trip ${metric}, 32 B, 1 conn, 1 in flight`,
    metric,
    unit: "µs",
    higherIsBetter: false,
    fresh: false,
    config: { mode: "latency", size: 32, warmup, duration },
  });
}
scenarios.push({
  id: "setup",
  title: "connection setup (open + close), 16 loops",
  metric: "rate",
  unit: "conn/s",
  higherIsBetter: true,
  fresh: false,
  config: { mode: "setup", conns: 16, warmup, duration },
});
// --idle-conns=1000,5000: the idle, heap and broadcast sizes (default: 1,000; full: both).
const idleConns = argValue("idle-conns", full ? "1000,5000" : "1000").split(",").map(Number);
for (const conns of idleConns) {
  const config = { mode: "idle", conns, reps: full ? 20 : 10, size: 32 };
  scenarios.push({
    id: `idle-${conns}`,
    title: `memory per idle connection (${conns} conns, RSS delta)`,
    metric: "rssPerConn",
    unit: "B",
    higherIsBetter: false,
    fresh: true,
    config,
  }, {
    id: `heap-${conns}`,
    title: `JS heap per idle connection (${conns} conns)`,
    metric: "heapPerConn",
    unit: "B",
    higherIsBetter: false,
    fresh: true,
    config,
  }, {
    id: `broadcast-${conns}`,
    title: `broadcast 32 B to ${conns} conns (server ms, median of ${config.reps})`,
    metric: "broadcastMs",
    unit: "ms",
    higherIsBetter: false,
    fresh: true,
    config,
  });
}

// --only=echo,latency,...: keep the scenarios whose id starts with one of these (idle keeps
// heap and broadcast too: they come from the same runs).
const only = argValue("only", "").split(",").filter((prefix) => prefix !== "");
if (only.length > 0) {
  const keep = (id: string) =>
    only.some((prefix) => id.startsWith(prefix)) ||
    // memory and broadcast come from the same runs as idle-N
    (only.includes("idle") && /^(heap|broadcast)-/.test(id));
  scenarios.splice(0, scenarios.length, ...scenarios.filter((s) => keep(s.id)));
}

// samples[scenario id][contestant] = list of results
const samples = new Map<string, Map<string, Result[]>>();
function record(id: string, name: string, result: Result): void {
  if (!samples.has(id)) samples.set(id, new Map());
  const byName = samples.get(id)!;
  if (!byName.has(name)) byName.set(name, []);
  byName.get(name)!.push(result);
}

const started = performance.now();
const servers = new Map<string, Server>();
try {
  for (const name of contestants) servers.set(name, await startServer(name));
  // Steady-state scenarios: persistent servers, contestants alternated run by run.
  const done = new Set<string>();
  for (const scenario of scenarios) {
    if (scenario.fresh) continue;
    const key = JSON.stringify(scenario.config);
    if (done.has(key)) continue;
    done.add(key);
    for (let r = 0; r < runs; r++) {
      for (const name of contestants) {
        const server = servers.get(name)!;
        const result = await client(
          { ...scenario.config, url: `ws://127.0.0.1:${server.port}/` },
          server.pid,
        );
        for (const s of scenarios) {
          if (JSON.stringify(s.config) === key) record(s.id, name, result);
        }
        console.error(`${scenario.id} ${name} run ${r + 1}: ${JSON.stringify(result)}`);
      }
    }
  }
  for (const server of servers.values()) await stopServer(server);
  servers.clear();
  // Memory and broadcast: a fresh server per run.
  for (const scenario of scenarios) {
    if (!scenario.fresh || !scenario.id.startsWith("idle-")) continue;
    for (let r = 0; r < runs; r++) {
      for (const name of contestants) {
        const server = await startServer(name);
        try {
          const result = await client(
            { ...scenario.config, url: `ws://127.0.0.1:${server.port}/` },
            server.pid,
          );
          const conns = scenario.config.conns;
          for (const id of [`idle-${conns}`, `heap-${conns}`, `broadcast-${conns}`]) {
            record(id, name, result);
          }
          console.error(`${scenario.id} ${name} run ${r + 1}: ${JSON.stringify(result)}`);
        } finally {
          await stopServer(server);
        }
      }
    }
  }
} finally {
  for (const server of servers.values()) await stopServer(server);
}
const elapsed = (performance.now() - started) / 1000;

// Report.
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const fmt = (value: number): string =>
  !Number.isFinite(value)
    ? "–"
    : Math.abs(value) >= 100
    ? Math.round(value).toLocaleString("en-US")
    : value.toFixed(Math.abs(value) >= 10 ? 1 : 2);

// One table per raw server: its contestants, with ratios (memory: differences) to it, and the
// geometric mean of their echo throughput ratios.
function table(baseline: string, names: string[]): string {
  const rows: string[] = [];
  const header = ["scenario", "unit", ...names.map((c) => rawLabel[c] ?? c)];
  rows.push(`| ${header.join(" | ")} |`);
  rows.push(`| ${header.map((_, i) => i < 2 ? "---" : "---:").join(" | ")} |`);
  const ratios: Record<string, number[]> = {};
  for (const scenario of scenarios) {
    const byName = samples.get(scenario.id);
    if (!byName) continue;
    const rawMedian = median((byName.get(baseline) ?? []).map((r) => r[scenario.metric]));
    const cells = names.map((name) => {
      const values = (byName.get(name) ?? []).map((r) => r[scenario.metric]);
      if (values.length === 0) return "–";
      const m = median(values);
      const range = `${fmt(Math.min(...values))}–${fmt(Math.max(...values))}`;
      if (name === baseline) return `**${fmt(m)}** (${range})`;
      let relation: string;
      if (scenario.unit === "B") {
        const delta = m - rawMedian;
        relation = `${delta >= 0 ? "+" : ""}${fmt(delta)} B`;
      } else {
        const ratio = m / rawMedian;
        relation = `${ratio.toFixed(2)}×`;
        if (scenario.id.startsWith("echo-")) (ratios[name] ??= []).push(ratio);
      }
      return `**${fmt(m)}** (${range}) ${relation}`;
    });
    rows.push(`| ${scenario.title} | ${scenario.unit} | ${cells.join(" | ")} |`);
  }
  const geo = names.filter((c) => c !== baseline).map((name) => {
    const list = ratios[name] ?? [];
    const g = Math.exp(list.reduce((a, b) => a + Math.log(b), 0) / list.length);
    return `${name} ${g.toFixed(3)}×`;
  });
  if (geo.length === 0) return rows.join("\n");
  return `${rows.join("\n")}

Geometric mean of echo throughput ratios to ${rawLabel[baseline] ?? baseline}: ${geo.join(", ")}.`;
}

const groups = ["raw", "node-raw", "bun-raw"].map((baseline) => ({
  baseline,
  names: contestants.filter((name) => baselineOf(name) === baseline),
})).filter((group) => group.names.length > 0);
// --vs=NAME: one more table, the contestants of NAME's runtime against NAME (not a raw server).
const vs = argValue("vs", "");
if (vs !== "") {
  groups.push({ baseline: vs, names: contestants.filter((n) => baselineOf(n) === baselineOf(vs)) });
}
const tables = groups.map(({ baseline, names }) =>
  `### Against ${rawLabel[baseline] ?? baseline}\n\n${table(baseline, names)}`
);
// With --vs: the server's CPU time per echoed message (CPU share / rate), which depends less on
// how much of a core a loaded machine leaves the server than the rate does.
if (vs !== "") {
  const names = groups[groups.length - 1].names;
  const rows = [
    `| scenario | ${names.join(" | ")} |`,
    `| --- | ${names.map(() => "---:").join(" | ")} |`,
  ];
  const logs: Record<string, number[]> = {};
  for (const scenario of scenarios) {
    if (!scenario.id.startsWith("echo-")) continue;
    const byName = samples.get(scenario.id);
    const cpu = (name: string) =>
      median((byName?.get(name) ?? []).map((r) => r.serverCpu * 1e6 / r.rate));
    const base = cpu(vs);
    rows.push(`| ${scenario.title} | ${
      names.map((name) => {
        if (name === vs) return `**${fmt(cpu(name))}**`;
        (logs[name] ??= []).push(Math.log(cpu(name) / base));
        return `**${fmt(cpu(name))}** ${(cpu(name) / base).toFixed(3)}×`;
      }).join(" | ")
    } |`);
  }
  const geo = Object.entries(logs).map(([name, list]) =>
    `${name} ${Math.exp(list.reduce((a, b) => a + b, 0) / list.length).toFixed(3)}×`
  );
  tables.push(`### Server CPU µs per echoed message, against ${vs}

${rows.join("\n")}

Geometric mean of the CPU-per-message ratios to ${vs}: ${geo.join(", ")}.`);
}

const baselines = groups.map((group) => group.baseline).filter((b) =>
  contestants.includes(b) && b in rawLabel
);
const saturation: string[] = [
  `| scenario | ${baselines.map((b) => `${rawLabel[b]} server CPU | client CPU`).join(" | ")} |`,
  `| --- | ${baselines.map(() => "---: | ---:").join(" | ")} |`,
];
for (const scenario of scenarios) {
  if (!scenario.id.startsWith("echo-")) continue;
  const cells = baselines.map((baseline) => {
    const raw = samples.get(scenario.id)?.get(baseline) ?? [];
    return `${fmt(median(raw.map((r) => r.serverCpu * 100)))} % | ${
      fmt(median(raw.map((r) => r.clientCpu * 100)))
    } %`;
  });
  saturation.push(`| ${scenario.title} | ${cells.join(" | ")} |`);
}

const cpuModel = (await Deno.readTextFile("/proc/cpuinfo")).match(/model name\s*:\s*(.*)/)?.[1];
const versions = [
  `Deno ${Deno.version.deno} (V8 ${Deno.version.v8})`,
  `client: ${clientKind} ${
    clientKind === "bun"
      ? await run([bun, "--version"])
      : clientKind === "node"
      ? `${await run(["node", "--version"])} + ws ${
        JSON.parse(await Deno.readTextFile(`${deps}/node_modules/ws/package.json`)).version
      }`
      : Deno.version.deno
  }`,
  "crossws 0.4.17, hono 4.13.19",
];
if (nodeBundles.size > 0) {
  const ws = (await Deno.readTextFile([...nodeBundles.values()][0])).match(
    /npm\/registry\.npmjs\.org\/ws\/([^/]+)\//,
  );
  versions.push(
    `Node ${await run(["node", "--version"])} + ws ${
      ws?.[1] ?? "?"
    } (bundled by \`deno bundle\`), ${bufferutil ? "with" : "without"} bufferutil`,
  );
}
if (contestants.some(isBun)) {
  versions.push(`Bun ${await run([bun, "--version"])} (servers)`);
}
const report = `# Benchmark results

${full ? "Full" : "Quick"} run, ${new Date().toISOString()}, ${elapsed.toFixed(0)} s.

- Machine: ${navigator.hardwareConcurrency} cores (nproc), ${cpuModel}; ${
  taskset ? "server pinned to core 0, client to core 1 (taskset)" : "no pinning"
}.
- Runtimes: ${versions.join("; ")}.
- ${runs} runs per contestant, alternated (${
  contestants.join(", ")
} and again); ${duration} ms measured after ${warmup} ms warm-up.
- Cells: **median** (min–max) and the ratio to the contestant's raw server (for memory: the
  difference): raw Deno for the Deno contestants, Node 20 + ws for \`websock-node-real\`
  (adapters/node.ts under Node), \`Bun.serve\` for \`websock-bun\` (adapters/bun.ts under Bun).
- The machine is shared with other engineers' test runs: expect noise; compare ratios within a
  run, not absolute numbers across runs.
- Command: \`deno run -A bench/run.ts ${Deno.args.join(" ")}\`.

${tables.join("\n\n")}
${
  baselines.length === 0 ? "" : `
Load generator check: the client is not the bottleneck when a raw server uses about a whole core
while the client does not.

${saturation.join("\n")}
`
}`;
if (output.includes("/")) {
  await Deno.mkdir(output.slice(0, output.lastIndexOf("/")), { recursive: true });
}
await Deno.writeTextFile(output, report);
// Keep the report `deno fmt --check` clean (markdown is formatted too).
await new Deno.Command("deno", { args: ["fmt", "-q", output], stdout: "null" }).output();
console.log(report);
