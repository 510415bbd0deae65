// Child processes for the scenario benchmarks (bench/fanout.ts, bench/scale.ts): a shell
// command's output, JSON lines of a child, a time limit, a bounded stop, CPU time per process.

import { TextLineStream } from "./_lines.ts";

/** Run a shell command; its stdout, trimmed (stderr dropped). */
export async function sh(command: string): Promise<string> {
  const out = await new Deno.Command("sh", { args: ["-c", command], stderr: "null" }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

/** The JSON lines of a child's stdout, one per call (other lines are skipped). */
export function lines(child: Deno.ChildProcess): () => Promise<Record<string, number | string>> {
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

/** `promise`, or a rejection saying `what` after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => timer = setTimeout(() => reject(new Error(what)), ms)),
  ]).finally(() => clearTimeout(timer));
}

/** Close a child's stdin (our children exit then) and wait; SIGKILL after 10 s. */
export async function stop(child: Deno.ChildProcess): Promise<void> {
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

/** CPU time of every thread of a process, in ms (ns resolution, unlike /proc/PID/stat). */
export function cpuMs(pid: number): number {
  let ns = 0;
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(
          Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/schedstat`).split(" ")[0],
        );
      } catch { /* the thread ended */ }
    }
  } catch { /* the process ended */ }
  return ns / 1e6;
}

/** The median of the finite values (NaN when there is none). */
export function median(values: number[]): number {
  return percentile(values, 50);
}

/** The p-th percentile (nearest rank) of the finite values (NaN when there is none). */
export function percentile(values: number[], p: number): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  if (p === 50 && sorted.length % 2 === 0) {
    const mid = sorted.length >> 1;
    return (sorted[mid - 1] + sorted[mid]) / 2;
  }
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** The client processes of a run, once every connection is open or failed. */
export interface Clients {
  readonly clients: Deno.ChildProcess[];
  /** Each client's next JSON line. */
  readonly readers: (() => Promise<Record<string, number | string>>)[];
  readonly ready: number;
  readonly failed: number;
  /** From the first spawn until the last client said it was done. */
  readonly ms: number;
}

/**
 * Open `conns` connections to `port` from `sources` bench/fanout_client.mjs processes, one per
 * loopback source address 127.0.0.2, 127.0.0.3, ... (each `ceil(conns / sources)`), spawned
 * with `spawn` (`prefix` goes before `node`, such as a taskset); waits at most `limitMs`.
 */
export async function openClients(
  spawn: (command: string) => Deno.ChildProcess,
  { port, conns, sources, concurrency, prefix = "", limitMs = 900_000 }: {
    port: number;
    conns: number;
    sources: number;
    concurrency: number;
    prefix?: string;
    limitMs?: number;
  },
): Promise<Clients> {
  const script = new URL("./fanout_client.mjs", import.meta.url).pathname;
  const perClient = Math.ceil(conns / sources);
  const t0 = performance.now();
  const clients: Deno.ChildProcess[] = [];
  const readers = [];
  for (let i = 0; i < sources; i++) {
    const n = Math.min(perClient, conns - i * perClient);
    if (n <= 0) break;
    const config = { port, src: `127.0.0.${2 + i}`, conns: n, concurrency };
    const client = spawn(`${prefix}node ${script} '${JSON.stringify(config)}'`);
    clients.push(client);
    readers.push(lines(client));
  }
  const setups = await within(Promise.all(readers.map((read) => read())), limitMs, "connect")
    .catch(async (error) => {
      await Promise.all(clients.map(stop));
      throw error;
    });
  return {
    clients,
    readers,
    ready: setups.reduce((sum, s) => sum + Number(s.ready), 0),
    failed: setups.reduce((sum, s) => sum + Number(s.failed), 0),
    ms: performance.now() - t0,
  };
}

/**
 * Every client's report of round `id` (its next JSON line); after `ms` without all of them,
 * asks each client for its count so far ("report ID") and returns what they say then.
 */
export async function roundReports(
  { clients, readers }: Pick<Clients, "clients" | "readers">,
  id: string,
  ms = 60_000,
): Promise<Record<string, number | string>[]> {
  const pending = readers.map((read) => read());
  try {
    return await within(Promise.all(pending), ms, `round ${id}`);
  } catch {
    for (const client of clients) {
      const writer = client.stdin.getWriter();
      await writer.write(new TextEncoder().encode(`report ${id}\n`));
      writer.releaseLock();
    }
    return await within(Promise.all(pending), 10_000, `the reports of round ${id}`);
  }
}
