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
  /**
   * Freeze the server (SIGSTOP) and wait until every thread of it is stopped: its
   * connections stay open, nothing is read or sent.
   */
  freeze(): Promise<void>;
  /** How many client connections it has accepted since it started (its /varz). */
  connections(): Promise<number>;
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
    async freeze() {
      if (!child) return;
      child.kill("SIGSTOP");
      const pid = String(child.pid);
      for (let i = 0; i < 200; i++) {
        // Each thread's state follows its name in parentheses: T is stopped. (Read by cat:
        // Deno lets only --allow-all read /proc.)
        const stats = await run("sh", "-c", `cat /proc/${pid}/task/*/stat`);
        if (stats.split("\n").every((line) => /\) [Tt] /.test(line))) return;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      throw new Error("nats-server did not stop");
    },
    async connections() {
      const response = await fetch(`http://127.0.0.1:${monitor}/varz`);
      const { total_connections } = await response.json();
      return total_connections;
    },
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
