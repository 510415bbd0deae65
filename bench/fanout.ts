// Fan-out at scale (a scenario, not a test): N idle connections to one server, then one 32 B
// message to all of them, timed on the server and as the clients see it.
//
//   deno run -A bench/fanout.ts --runtime=deno --conns=100000 --rounds=3 --reps=5
//   deno run -A bench/fanout.ts --runtime=node,bun --conns=10000
//
// Per runtime, a raw server and the WebSock adapter (every connection on pub/sub: topic "mail"
// through handleInfo, topic "fast" through the fastlane) are alternated round by round, each
// round on a fresh server: the clients (bench/fanout_client.mjs under Node, one process per
// loopback source address 127.0.0.2, 127.0.0.3, ... so that no address runs out of ports) open
// the connections; the server's RSS and JS heap after a forced GC give the memory per
// connection; then `reps` fan-outs per mode, modes alternated. Raw modes: "raw" (a loop of
// `send` over the sockets; on Bun `server.publish` to a native topic every socket joined) and,
// on Bun, "loop" (a JS loop of `send`). WebSock modes: "mail" and "fast".
// Reported: setup rate, RSS and heap per connection, and per mode the medians of the server's
// CPU time for the fan-out (all threads, /proc/PID/task/*/schedstat, from the request until
// every client had the message: it includes the deferred writes), the server time (sync: until
// the loop or publish returned; settled: until every handleInfo pushed and a timer turn passed)
// and the client-observed delivery (until the last client had it), with ratios to raw. Every process has a time limit; servers bind 127.0.0.1 only.

import { cpuMs, lines, median, openClients, roundReports, sh, stop, within } from "./_procs.ts";

const arg = (name: string, fallback: string): string =>
  Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const runtimes = arg("runtime", "deno").split(",");
let conns = Number(arg("conns", "5000"));
const rounds = Number(arg("rounds", "3"));
const reps = Number(arg("reps", "5"));
const warmups = Number(arg("warmups", "2")); // untimed fan-outs per mode first
const sources = Number(arg("sources", "8"));
const output = arg("out", "");
const here = new URL(".", import.meta.url).pathname;
const deps = Deno.env.get("WS_DEPS") ?? "/tmp/wsb-deps";
const bun = `${deps}/node_modules/.bin/bun`;

// Limits first: file descriptors (one per connection in the server and in the clients),
// ephemeral ports per source address, memory.
const want = conns + 1024;
const hardLimit = Number(await sh("ulimit -Hn"));
const canRaise = (await sh(`ulimit -n ${want} 2>/dev/null && echo yes`)) === "yes";
const fdLimit = canRaise ? Math.max(want, hardLimit) : hardLimit;
const [portLow, portHigh] = (await Deno.readTextFile("/proc/sys/net/ipv4/ip_local_port_range"))
  .trim().split(/\s+/).map(Number);
const limits = `ulimit -n: hard ${hardLimit}${
  canRaise ? `, raised to ${fdLimit}` : " (cannot be raised: no CAP_SYS_RESOURCE)"
}; ephemeral ports ${portLow}-${portHigh}, left alone: the clients bind 1024-${portLow - 1} (${
  portLow - 1024
} per source address)`;
console.error(limits);
if (conns + 64 > fdLimit) {
  const capped = fdLimit - 500;
  console.error(`${conns} connections need ${conns + 64} fds in the server: capped to ${capped}`);
  conns = capped;
}
const perClient = Math.ceil(conns / sources);
// The clients bind 1024 up to the ephemeral range (bench/fanout_client.mjs).
if (perClient > portLow - 1024 - 100) throw new RangeError(`Too few ports for ${perClient}`);
const taskset = (await sh("command -v taskset")) !== "" && navigator.hardwareConcurrency >= 2;
const pin = (core: number) => taskset ? `taskset -c ${core} ` : "";

// The servers: bench/server.ts (Deno), the bundled bench/node_server.ts (Node), Bun's.
let nodeBundle = "";
if (runtimes.includes("node")) {
  nodeBundle = `${deps}/bench_node_fanout_server.mjs`;
  const { success } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "node", "-o", nodeBundle, `${here}node_server.ts`],
  }).output();
  if (!success) throw new Error("deno bundle of bench/node_server.ts failed");
}
const contestants: Record<string, [string, string, string[]][]> = {
  deno: [
    ["raw Deno", `deno run -A --v8-flags=--expose-gc ${here}server.ts raw`, ["raw"]],
    [
      "WebSock (Deno)",
      `deno run -A --v8-flags=--expose-gc ${here}server.ts websock-fan`,
      ["mail", "fast"],
    ],
  ],
  node: [
    ["raw Node + ws", `node --expose-gc ${nodeBundle} node-raw`, ["raw"]],
    ["WebSock (Node)", `node --expose-gc ${nodeBundle} websock-node-fan`, ["mail", "fast"]],
  ],
  bun: [
    ["raw Bun", `${bun} ${here}bun_server.ts bun-raw`, ["raw", "loop"]],
    ["WebSock (Bun)", `${bun} ${here}bun_server.ts websock-bun-fan`, ["mail", "fast"]],
  ],
};

function spawn(command: string, env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command("sh", {
    args: ["-c", `ulimit -n ${fdLimit} 2>/dev/null || ulimit -n ${hardLimit}; exec ${command}`],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
    env: { WS_DEPS: deps, WEBSOCK_OPTIONS: '{"timeout":300000}', ...env },
  }).spawn();
}

type Sample = Record<string, number>;
const samples = new Map<string, Sample[]>(); // "runtime|contestant|metric" -> samples
const record = (key: string, sample: Sample) => {
  if (!samples.has(key)) samples.set(key, []);
  samples.get(key)!.push(sample);
};

async function get(port: number, path: string): Promise<Record<string, number>> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return await response.json();
}

async function round(
  runtime: string,
  [name, command, modes]: [string, string, string[]],
  r: number,
) {
  const server = spawn(`${pin(0)}${command}`);
  const serverLine = lines(server);
  const clients: Deno.ChildProcess[] = [];
  try {
    const { port } = await within(serverLine(), 30_000, "server start") as { port: number };
    const before = await get(port, "/stats");
    const opened = await openClients(spawn, {
      port,
      conns,
      sources,
      concurrency: 64,
      prefix: pin(1),
      limitMs: 600_000,
    });
    clients.push(...opened.clients);
    const { readers, ready, failed, ms: setupMs } = opened;
    for (let i = 0; i < 200 && (await get(port, "/count")).count < ready; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = await get(port, "/stats");
    const memory = {
      ready,
      failed,
      setupRate: ready / (setupMs / 1000),
      rssPerConn: (after.rss - before.rss) / ready,
      heapPerConn: (after.heap - before.heap) / ready,
      rssTotal: after.rss,
    };
    record(`${runtime}|${name}|memory`, memory);
    console.error(`${runtime} ${name} round ${r}: ${JSON.stringify(memory)}`);
    for (let rep = -warmups; rep < reps; rep++) {
      const order = rep % 2 === 0 ? modes : [...modes].reverse();
      for (const mode of order) {
        const id = `r${r}-${rep}-${mode}`;
        const cpu0 = cpuMs(server.pid);
        const fan = await get(port, `/fanout?mode=${mode}&round=${id}`);
        let last = 0, count = 0;
        const reports = await roundReports({ clients, readers }, id);
        const cpu = cpuMs(server.pid) - cpu0;
        for (const report of reports) {
          last = Math.max(last, Number(report.last));
          count += Number(report.count);
        }
        const sample = {
          cpuMs: cpu,
          syncMs: fan.syncMs,
          settledMs: fan.settledMs,
          deliveryMs: count === ready ? last - fan.start : NaN,
          received: count,
          dropped: fan.dropped ?? 0,
        };
        if (rep >= 0) record(`${runtime}|${name}|${mode}`, sample);
        console.error(`  ${mode} rep ${rep}: ${JSON.stringify(sample)}`);
        if (count !== ready) throw new Error(`round ${id}: ${count} of ${ready} received`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    await Promise.all(clients.map(stop));
    await stop(server);
  }
}

const started = performance.now();
const load = await Deno.readTextFile("/proc/loadavg");
for (const runtime of runtimes) {
  for (let r = 0; r < rounds; r++) {
    const pair = contestants[runtime];
    for (const contestant of r % 2 === 0 ? pair : [...pair].reverse()) {
      await round(runtime, contestant, r);
    }
  }
}

const fmt = (v: number, digits = 2) =>
  !Number.isFinite(v)
    ? "–"
    : Math.abs(v) >= 100
    ? Math.round(v).toLocaleString("en-US")
    : v.toFixed(digits);
const of = (key: string, metric: string) => (samples.get(key) ?? []).map((s) => s[metric]);

const tables: string[] = [];
for (const runtime of runtimes) {
  const [raw, websock] = contestants[runtime];
  const rows = [
    `| ${runtime}, ${
      conns.toLocaleString("en-US")
    } conns | setup conn/s | RSS per conn | heap per conn | server RSS |`,
    "| --- | ---: | ---: | ---: | ---: |",
  ];
  for (const [name] of [raw, websock]) {
    const key = `${runtime}|${name}|memory`;
    rows.push(
      `| ${name} | ${fmt(median(of(key, "setupRate")))} | ${
        fmt(median(of(key, "rssPerConn")) / 1024)
      } KiB | ${fmt(median(of(key, "heapPerConn")) / 1024)} KiB | ${
        fmt(median(of(key, "rssTotal")) / 2 ** 20)
      } MiB |`,
    );
  }
  rows.push(
    "",
    "| fan-out of 32 B | server CPU ms | sync ms | settled ms | client delivery ms | CPU vs raw | delivery vs raw |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  const rawKey = `${runtime}|${raw[0]}|raw`;
  const rawDelivery = median(of(rawKey, "deliveryMs"));
  const rawCpu = median(of(rawKey, "cpuMs"));
  const label: Record<string, string> = {
    raw: runtime === "bun" ? "raw: server.publish" : "raw: loop of send",
    loop: "raw: loop of send",
    mail: "WebSock: handleInfo (pub/sub mailbox)",
    fast: "WebSock: fastlane (pub/sub encode)",
  };
  for (const [name, , modes] of [raw, websock]) {
    for (const mode of modes) {
      const key = `${runtime}|${name}|${mode}`;
      const delivery = median(of(key, "deliveryMs"));
      const cpu = median(of(key, "cpuMs"));
      rows.push(
        `| ${label[mode]} | ${fmt(cpu)} | ${fmt(median(of(key, "syncMs")))} | ${
          fmt(median(of(key, "settledMs")))
        } | ${fmt(delivery)} | ${(cpu / rawCpu).toFixed(2)}× | ${
          (delivery / rawDelivery).toFixed(2)
        }× |`,
      );
    }
  }
  tables.push(rows.join("\n"));
}

const report = `## Fan-out at scale (bench/fanout.ts)

${new Date().toISOString()}, ${((performance.now() - started) / 1000).toFixed(0)} s; load average
before: ${load.split(" ").slice(0, 3).join(" ")}. Command: \`deno run -A bench/fanout.ts ${
  Deno.args.join(" ")
}\`. ${limits}. ${rounds} rounds (raw and WebSock alternated, a fresh server each), ${reps}
fan-outs per mode per round (modes alternated); medians over all rounds. Clients:
bench/fanout_client.mjs under Node, ${sources} processes on 127.0.0.2–${1 + sources}; server ${
  taskset ? "pinned to core 0, clients to core 1" : "not pinned"
}.

${tables.join("\n\n")}
`;
console.log(report);
if (output) await Deno.writeTextFile(output, report);
