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

/** A fake Redis that is forever loading its data, and counts the ready checks (INFO). */
export interface LoadingRedis extends AsyncDisposable {
  readonly url: string;
  /** How many INFO commands it was sent. */
  readonly infos: number;
}

/**
 * A server speaking just enough RESP to look like a Redis still loading its append-only
 * file: INFO says `loading:1`, every other command gets `-LOADING` (as Redis answers).
 */
export function loadingRedis(): LoadingRedis {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const encoder = new TextEncoder(), decoder = new TextDecoder("latin1");
  const info = "# Persistence\r\nloading:1\r\nloading_eta_seconds:1\r\n";
  const conns = new Set<Deno.Conn>();
  let infos = 0;
  const serve = async (conn: Deno.Conn) => {
    const buffer = new Uint8Array(16 * 1024);
    let pending = "";
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) return;
        pending += decoder.decode(buffer.subarray(0, n));
        // Whole commands only: *<count>, then <count> times $<length> and the bytes.
        for (;;) {
          const args: string[] = [];
          let at = 0, whole = false;
          const line = () => {
            const end = pending.indexOf("\r\n", at);
            if (end < 0) return undefined;
            const text = pending.slice(at, end);
            at = end + 2;
            return text;
          };
          const head = line();
          if (head !== undefined && head.startsWith("*")) {
            whole = true;
            for (let i = 0; i < Number(head.slice(1)) && whole; i++) {
              const size = line();
              if (size === undefined || at + Number(size.slice(1)) + 2 > pending.length) {
                whole = false;
              } else {
                args.push(pending.slice(at, at + Number(size.slice(1))));
                at += Number(size.slice(1)) + 2;
              }
            }
          }
          if (!whole) break;
          pending = pending.slice(at);
          const reply = args[0]?.toUpperCase() === "INFO"
            ? (infos++, `$${info.length}\r\n${info}\r\n`)
            : "-LOADING Redis is loading the dataset in memory\r\n";
          const bytes = encoder.encode(reply);
          for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
        }
      }
    } catch {
      // the client went, or the server is closing
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  };
  const tasks = new Set<Promise<void>>();
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      const task = serve(conn).finally(() => tasks.delete(task));
      tasks.add(task);
    }
  })();
  return {
    url: `redis://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    get infos() {
      return infos;
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting.catch(() => {});
      for (const conn of [...conns]) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await Promise.all(tasks);
    },
  };
}
