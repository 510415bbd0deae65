// A child server for the churn soak: serves an echo handler on 127.0.0.1:0, prints its port,
// then answers each line on stdin: "mem" prints memory after a full GC (run with
// --v8-flags=--expose-gc), live connections and terminate count; "exit" drains and exits.

import { ok, push, type WebSock } from "../mod.ts";
import { websockHandler } from "../adapters/deno.ts";

let terminated = 0;
const Echo = {
  init: () => ok(0),
  handleIn: (data, count) => push(data, count + 1),
  handleInfo: (_m, count) => ok(count),
  terminate: () => void terminated++,
} satisfies WebSock<number>;

const handler = websockHandler(Echo);
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
const out = (value: unknown) => console.log(JSON.stringify(value));
out({ port: server.addr.port });

const gc = (globalThis as { gc?: () => void }).gc;
const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let pending = "";
for await (const chunk of lines) {
  pending += chunk;
  let i: number;
  while ((i = pending.indexOf("\n")) >= 0) {
    const line = pending.slice(0, i).trim();
    pending = pending.slice(i + 1);
    if (line === "mem") {
      for (let n = 0; n < 3; n++) {
        gc?.();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const { rss, heapUsed } = Deno.memoryUsage();
      out({ rss, heapUsed, live: handler.registry.size, terminated });
    } else if (line === "exit") {
      await handler.shutdown();
      await server.shutdown();
      out({ bye: true });
      Deno.exit(0);
    }
  }
}
