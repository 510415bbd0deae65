// A throwaway nats-server for the tests that need one: 127.0.0.1, free ports, JetStream
// (`-js`) with its own temporary store directory. Tests that need it are ignored when
// nats-server is not installed (Debian: apt-get install nats-server, /usr/sbin/nats-server).

import { freePort } from "./_redis.ts";

const BINARY = (() => {
  for (const candidate of ["nats-server", "/usr/sbin/nats-server"]) {
    try {
      const ok =
        new Deno.Command(candidate, { args: ["--version"], stdout: "null", stderr: "null" })
          .outputSync().success;
      if (ok) return candidate;
    } catch {
      // not this one
    }
  }
  return undefined;
})();

/** Whether `nats-server` is installed. */
export const HAS_NATS: boolean = BINARY !== undefined;

/** Say why the tests of `file` are skipped when there is no `nats-server`. */
export function warnWithoutNats(file: string): void {
  if (HAS_NATS) return;
  console.warn(
    `Skipping the NATS tests of ${file}: no nats-server on the PATH or in /usr/sbin (install it, or run .ci/run)`,
  );
}

export interface NatsServer extends AsyncDisposable {
  readonly port: number;
  readonly url: string;
  /** Freeze the server (SIGSTOP): its connections stay open, nothing is read or sent. */
  freeze(): void;
  /** Kill the server (SIGKILL) and wait for it to exit. */
  kill(): Promise<void>;
  /** Start it again on the same port; with `wipe`, with an empty store (JetStream lost). */
  restart(options?: { wipe?: boolean }): Promise<void>;
}

async function run(command: string, ...args: string[]): Promise<string> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "inherit" })
    .output();
  if (!output.success) throw new Error(`${command} ${args.join(" ")} failed`);
  return new TextDecoder().decode(output.stdout).trim();
}

async function launch(
  port: number,
  monitor: number,
  dir: string,
  extra: string[],
): Promise<Deno.ChildProcess> {
  const args = [
    ...["-js", "-a", "127.0.0.1", "-p", String(port), "-m", String(monitor), "-sd", dir],
    ...extra,
  ];
  const child = new Deno.Command(BINARY!, { args, stdout: "null", stderr: "null", stdin: "null" })
    .spawn();
  // Ready when /healthz says so (JetStream included; bounded: 200 × 25 ms).
  for (let i = 0; i < 200; i++) {
    try {
      const response = await fetch(`http://127.0.0.1:${monitor}/healthz`);
      const body = await response.text();
      if (response.ok && body.includes('"ok"')) return child;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  child.kill("SIGKILL");
  await child.status;
  throw new Error(`nats-server did not start on port ${port}`);
}

/**
 * Start a nats-server with JetStream on 127.0.0.1 and a free port; `await using` stops it.
 * `args` go to nats-server too (such as `--user`, `--pass`).
 */
export async function startNats({ args = [] as string[] } = {}): Promise<NatsServer> {
  const port = freePort(), monitor = freePort();
  // Made and removed by child processes: the test task runs without --allow-write.
  const dir = await run("mktemp", "-d", "-t", "websock-nats-XXXXXX");
  let child: Deno.ChildProcess | undefined = await launch(port, monitor, dir, args);
  const kill = async () => {
    if (!child) return;
    const c = child;
    child = undefined;
    c.kill("SIGKILL");
    await c.status;
  };
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    freeze: () => child?.kill("SIGSTOP"),
    kill,
    async restart({ wipe = false } = {}) {
      await kill();
      if (wipe) await run("find", dir, "-mindepth", "1", "-delete");
      child = await launch(port, monitor, dir, args);
    },
    async [Symbol.asyncDispose]() {
      await kill();
      await run("rm", "-rf", dir);
    },
  };
}

/** A TCP relay to a server whose connections can be cut, to take one node off the network. */
export interface Relay extends AsyncDisposable {
  /** Connect here instead of to the server. */
  readonly url: string;
  /** Drop every relayed connection, and refuse new ones until `mend()`. */
  cut(): void;
  /** Accept and relay connections again. */
  mend(): void;
}

async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) return;
      for (let done = 0; done < n;) done += await to.write(buffer.subarray(done, n));
    }
  } catch {
    // cut, or the other side went
  }
}

/** Relay 127.0.0.1 connections to `port` (a nats-server's). */
export function relay(port: number): Relay {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const pairs = new Set<Deno.Conn[]>();
  const tasks = new Set<Promise<void>>();
  let open = true;
  const close = (pair: Deno.Conn[]) => {
    if (!pairs.delete(pair)) return;
    for (const conn of pair) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      if (!open) {
        conn.close();
        continue;
      }
      let upstream: Deno.Conn;
      try {
        upstream = await Deno.connect({ hostname: "127.0.0.1", port });
      } catch {
        conn.close();
        continue;
      }
      const pair = [conn, upstream];
      pairs.add(pair);
      const pumps = [pump(conn, upstream), pump(upstream, conn)];
      const task: Promise<void> = Promise.race(pumps).then(() => close(pair))
        .then(() => Promise.all(pumps)).then(() => {}).finally(() => tasks.delete(task));
      tasks.add(task);
    }
  })();
  return {
    url: `nats://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    cut() {
      open = false;
      for (const pair of [...pairs]) close(pair);
    },
    mend() {
      open = true;
    },
    async [Symbol.asyncDispose]() {
      open = false;
      listener.close();
      await accepting.catch(() => {});
      for (const pair of [...pairs]) close(pair);
      await Promise.all(tasks);
    },
  };
}
