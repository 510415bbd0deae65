// Headless Chromium driven over the DevTools protocol (no npm package): launch with a fresh
// profile, open pages, evaluate expressions, close. Used by the browser end-to-end test.

import { awaitStderr } from "./_stderr.ts";

/** Whether a Chromium binary is installed. */
export const CHROMIUM: string | undefined = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
  .find((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  });

/** Remove a profile directory (through `rm`: the tests may run, but not write). */
async function removeProfile(path: string): Promise<void> {
  if (!/\/websock-chromium-[0-9a-f-]{36}$/.test(path)) return;
  await new Deno.Command("rm", { args: ["-rf", path], stdout: "null", stderr: "null" }).output();
}

type Pending = { resolve: (value: Record<string, unknown>) => void; reject: (e: Error) => void };

/** A page (a target with a flat-mode session). */
export interface Page {
  readonly targetId: string;
  /** Evaluate an expression in the page and return its (JSON) value. */
  evaluate<T = unknown>(expression: string): Promise<T>;
  /** Poll an expression until it is truthy (bounded), returning its value. */
  waitFor<T = unknown>(expression: string, ms?: number): Promise<T>;
  /** Close the page (as a user closing the tab). */
  close(): Promise<void>;
}

/** A running browser. */
export class Browser implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #socket: WebSocket;
  readonly #profile: string;
  readonly #drained: Promise<void>;
  readonly #pending = new Map<number, Pending>();
  readonly #closed: Promise<void>;
  #id = 0;

  private constructor(
    child: Deno.ChildProcess,
    socket: WebSocket,
    profile: string,
    drained: Promise<void>,
  ) {
    this.#child = child;
    this.#socket = socket;
    this.#profile = profile;
    this.#drained = drained;
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      if (message.error) pending.reject(new Error(JSON.stringify(message.error)));
      else pending.resolve(message.result);
    };
    this.#closed = new Promise((resolve) => socket.addEventListener("close", () => resolve()));
  }

  /** Launch headless Chromium with a fresh profile; resolves once DevTools answers. */
  static async launch(executable: string): Promise<Browser> {
    // A fresh profile that Chromium creates itself (the test task has no --allow-write).
    const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
    const profile = `${tmp}/websock-chromium-${crypto.randomUUID()}`;
    const child = new Deno.Command(executable, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        `--user-data-dir=${profile}`,
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let ready: { match: RegExpMatchArray; drained: Promise<void> };
    try {
      ready = await awaitStderr(child, /DevTools listening on (ws:\/\/\S+)/, 30_000, "Chromium");
    } catch (error) {
      await removeProfile(profile);
      throw error;
    }
    const endpoint = ready.match[1];
    const drained = ready.drained;
    const socket = new WebSocket(endpoint);
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error(`Cannot connect to DevTools at ${endpoint}`));
    });
    return new Browser(child, socket, profile, drained);
  }

  /** Send one DevTools command (to a session when given) and await its result. */
  send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<Record<string, unknown>> {
    const id = ++this.#id;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#socket.send(JSON.stringify({ id, method, params, sessionId }));
    });
  }

  /** Open a page at `url`. */
  async open(url: string): Promise<Page> {
    const { targetId } = await this.send("Target.createTarget", { url }) as { targetId: string };
    const { sessionId } = await this.send("Target.attachToTarget", { targetId, flatten: true }) as {
      sessionId: string;
    };
    const evaluate = async <T>(expression: string): Promise<T> => {
      const { result, exceptionDetails } = await this.send("Runtime.evaluate", {
        expression,
        returnByValue: true,
        awaitPromise: true,
      }, sessionId) as { result: { value: T }; exceptionDetails?: unknown };
      if (exceptionDetails) throw new Error(`Page threw: ${JSON.stringify(exceptionDetails)}`);
      return result.value;
    };
    return {
      targetId,
      evaluate,
      async waitFor<T>(expression: string, ms = 10_000): Promise<T> {
        const end = Date.now() + ms;
        for (;;) {
          const value = await evaluate<T>(expression).catch(() => undefined);
          if (value) return value;
          if (Date.now() > end) throw new Error(`Timed out waiting for ${expression}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      },
      close: async () => {
        await this.send("Target.closeTarget", { targetId });
      },
    };
  }

  /** Close the browser, wait for it to exit and remove its profile. */
  async [Symbol.asyncDispose](): Promise<void> {
    const exited = this.#child.status;
    const kill = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // gone
      }
    }, 5000);
    try {
      if (this.#socket.readyState === WebSocket.OPEN) {
        await Promise.race([this.send("Browser.close").catch(() => {}), exited]);
      }
    } finally {
      if (this.#socket.readyState < WebSocket.CLOSING) this.#socket.close();
      await this.#closed;
      await exited;
      clearTimeout(kill);
      await this.#drained;
      for (const pending of this.#pending.values()) pending.reject(new Error("Browser closed"));
      await removeProfile(this.#profile);
    }
  }
}
