// A TCP relay whose connections a test can cut: one node off the network, the server up.

/** A TCP relay to a server whose connections can be cut, to take one node off the network. */
export interface Relay extends AsyncDisposable {
  /** The relay's port: connect here instead of to the server. */
  readonly port: number;
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

/** Relay 127.0.0.1 connections to `port` (a nats-server's, a redis-server's). */
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
    port: (listener.addr as Deno.NetAddr).port,
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
