// A throwaway redis-server for the tests that need one: 127.0.0.1, a free port, no
// persistence. Tests that need it are ignored when redis-server is not installed.

/** Whether `redis-server` is on the PATH. */
export const HAS_REDIS: boolean = (() => {
  try {
    return new Deno.Command("redis-server", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/** Say why the tests of `file` are skipped when there is no `redis-server`. */
export function warnWithoutRedis(file: string): void {
  if (HAS_REDIS) return;
  console.warn(
    `Skipping the Redis tests of ${file}: no redis-server on the PATH (install it, or run .ci/run)`,
  );
}

/** A free TCP port on 127.0.0.1 (the OS picks it; free again once returned). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

export interface RedisServer extends AsyncDisposable {
  readonly port: number;
  readonly url: string;
  /** Kill the server (SIGKILL) and wait for it to exit. */
  kill(): Promise<void>;
  /** Start it again on the same port. */
  restart(): Promise<void>;
}

async function launch(port: number, dir?: string): Promise<Deno.ChildProcess> {
  // With a dir: an append-only file written on every command, so a killed server comes back
  // with its data.
  const persistence = dir
    ? ["--appendonly", "yes", "--appendfsync", "always", "--dir", dir]
    : ["--appendonly", "no"];
  const child = new Deno.Command("redis-server", {
    args: [
      "--bind",
      "127.0.0.1",
      "--port",
      String(port),
      "--save",
      "",
      ...persistence,
      "--protected-mode",
      "no",
    ],
    stdout: "null",
    stderr: "null",
    stdin: "null",
  }).spawn();
  // Ready when it accepts a PING (bounded: 100 × 50 ms).
  for (let i = 0; i < 100; i++) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await conn.write(new TextEncoder().encode("PING\r\n"));
        const buf = new Uint8Array(16);
        const n = await conn.read(buf);
        if (n && new TextDecoder().decode(buf.subarray(0, n)).startsWith("+PONG")) return child;
      } finally {
        conn.close();
      }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill("SIGKILL");
  await child.status;
  throw new Error(`redis-server did not start on port ${port}`);
}

/** Run a command; its stdout, trimmed (throws when it fails). */
export async function run(command: string, ...args: string[]): Promise<string> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "inherit" })
    .output();
  if (!output.success) throw new Error(`${command} ${args.join(" ")} failed`);
  return new TextDecoder().decode(output.stdout).trim();
}

/**
 * Start a redis-server on 127.0.0.1 and a free port; `await using` stops it. With
 * `persist`, it keeps its data (in a temporary directory) across `restart()`.
 */
export async function startRedis({ persist = false } = {}): Promise<RedisServer> {
  const port = freePort();
  // Made and removed by child processes: the test task runs without --allow-write.
  const dir = persist ? await run("mktemp", "-d", "-t", "websock-redis-XXXXXX") : undefined;
  let child: Deno.ChildProcess | undefined = await launch(port, dir);
  const kill = async () => {
    if (!child) return;
    const c = child;
    child = undefined;
    c.kill("SIGKILL");
    await c.status;
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    async restart() {
      await kill();
      child = await launch(port, dir);
    },
    async [Symbol.asyncDispose]() {
      await kill();
      if (dir) await run("rm", "-rf", dir);
    },
  };
}
