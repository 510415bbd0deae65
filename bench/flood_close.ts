// Close frames under a flood: how many closes the server decides while a raw client floods it
// reach that client as a close frame (the rest end in a reset). Against the Deno adapter in
// this process (`DIR` runs DIR/adapters/deno.ts: a scratch copy, such as main's):
//
//   deno run -A bench/flood_close.ts [DIR] --runs=20
//
// For each handler (handleIn throws: 1011; never settles: 1013 once maxQueuedEvents is full)
// and message size, `runs` connections each flood 2,000 64 KiB writes of one repeated frame.

import { encodeFrame, Raw, upgradeRequest } from "../testing/_raw.ts";
import { ok, type WebSock } from "../mod.ts";

const dir = Deno.args.find((a) => !a.startsWith("--"));
const runs = Number(Deno.args.find((a) => a.startsWith("--runs="))?.slice(7) ?? 20);
const adapter = dir === undefined ? "../adapters/deno.ts" : `${dir}/adapters/deno.ts`;
const { websockHandler } = await import(adapter) as typeof import("../adapters/deno.ts");

const handlers: Record<string, WebSock<null>> = {
  throws: {
    init: () => ok(null),
    handleIn() {
      throw new Error("flood");
    },
  },
  hangs: { init: () => ok(null), handleIn: () => new Promise<never>(() => {}) },
};

async function flood(raw: Raw, frame: Uint8Array, stop: () => boolean): Promise<void> {
  const reps = Math.max(1, Math.floor(65536 / frame.byteLength));
  const chunk = new Uint8Array(frame.byteLength * reps);
  for (let i = 0; i < reps; i++) chunk.set(frame, i * frame.byteLength);
  try {
    for (let n = 0; n < 2000 && !stop(); n++) {
      await raw.write(chunk);
    }
  } catch {
    // reset by the server
  }
}

for (const [name, handler] of Object.entries(handlers)) {
  const serve = websockHandler(handler, { onError() {} });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, serve);
  for (const size of [5, 1000, 30_000]) {
    const frame = encodeFrame(1, "h".repeat(size));
    let got = 0;
    for (let run = 0; run < runs; run++) {
      const raw = await Raw.connect(server.addr.port);
      await raw.write(upgradeRequest());
      await raw.response();
      let done = false;
      const writing = flood(raw, frame, () => done);
      const close = await raw.readClose().catch(() => null);
      done = true;
      raw.close();
      await writing;
      if (close !== null) got++;
    }
    console.log(`handleIn ${name}, ${size} B messages: ${got} of ${runs} closes reached the peer`);
  }
  await server.shutdown();
}
