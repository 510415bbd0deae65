// Run with --v8-flags=--expose-gc: an async handler whose queue never empties (each
// handleInfo sends one more message while another waits) takes N messages; prints how much
// the heap grew. Before the engine compacted its queue, it grew by 16 bytes per message.

import { Engine, resolveEngineOptions, type Transport } from "../engine/mod.ts";
import { type Connection, ok, type WebSock } from "../mod.ts";

const N = Number(Deno.args[0] ?? 500_000);
let connection: Connection<number> | undefined;
let seen = 0;
let done!: () => void;
const finished = new Promise<void>((resolve) => done = resolve);
const Loop = {
  init(_a: undefined, c: Connection<number>) {
    connection = c;
    c.send(1);
    c.send(1);
    return ok(0);
  },
  handleIn: (_d: string | Uint8Array, s: number) => ok(s),
  async handleInfo(_m: number, s: number) {
    await null;
    if (++seen < N) connection!.send(1);
    else if (seen === N) done();
    return ok(s + 1);
  },
} satisfies WebSock<number, number>;
const transport: Transport = {
  sendText() {},
  sendBinary() {},
  close() {},
  bufferedAmount: () => 0,
};
const gc = (globalThis as { gc?: () => void }).gc!;
gc();
const before = Deno.memoryUsage().heapUsed;
const engine = new Engine(Loop, transport, {
  arg: undefined,
  info: { url: "ws://x/", headers: new Headers(), remoteAddr: null, protocol: "" },
  options: resolveEngineOptions({ timeout: 0 }),
});
engine.open();
await finished;
gc();
console.log(JSON.stringify({ messages: N, growth: Deno.memoryUsage().heapUsed - before }));
engine.closed(1000, "");
