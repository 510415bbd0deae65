// The conformance suite's keep-alive checks: `timeout` is liveness on every adapter. A peer
// that only reads but answers pings stays; a peer that shows no sign of life goes within
// 1.5 × timeout even while the server writes to it; a peer that talks is not pinged.

import { check, type Client, same } from "./_client.ts";
import { Raw, upgradeRequest } from "./_raw.ts";
import type { ConformanceReport } from "./conformance_handler.ts";

/** The part of the suite's context these checks use. */
export interface KeepAliveContext {
  readonly server: { readonly port: number };
  readonly waitMs: number;
  connect(path?: string): Promise<Client>;
  reports(id: number, count?: number): Promise<ConformanceReport[]>;
}

/** A keep-alive check, shaped like the suite's own. */
export interface KeepAliveCheck {
  readonly name: string;
  readonly options: { readonly timeout: number };
  run(ctx: KeepAliveContext): Promise<void>;
}

// Short, so that 4 × timeout stays a few seconds; long enough that a pong comes back in time on
// a loaded machine (the peer has at least 3/8 of it to answer).
const T = 1000;

const decoder = new TextDecoder();

/** Resolve with `value` after `ms`, or with what `promise` gives first; no timer left behind. */
async function within<T, U>(promise: Promise<T>, ms: number, value: U): Promise<T | U> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<U>((resolve) => timer = setTimeout(resolve, ms, value)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The keep-alive checks, each with `timeout` 1 s. */
export const KEEPALIVE_CHECKS: readonly KeepAliveCheck[] = [
  {
    name: "keep-alive: a client that sends no data but answers pings stays 4 × timeout, " +
      "receiving mail",
    options: { timeout: T },
    async run(ctx) {
      const client = await ctx.connect(`/?tick=${T / 4}`);
      const [hello] = await client.take(1, ctx.waitMs);
      check(typeof hello === "string" && hello.startsWith("id:"), `id message ${hello}`);
      const id = Number(hello.slice(3));
      const closed = await within(client.closed, 4 * T, null);
      check(closed === null, `the silent client was closed with ${closed?.code} ${closed?.reason}`);
      const ticks = client.received.filter((m) => m === "info:tick").length;
      check(ticks >= 4, `only ${ticks} mailbox pushes arrived in 4 × timeout`);
      check(client.pings.length >= 1, "the server never pinged the silent client");
      await client.close();
      const [report] = await ctx.reports(id);
      same(report.reason, { type: "remote", code: 1000, reason: "" }, "terminate");
    },
  },
  {
    name: "keep-alive: a peer that never reads nor answers is closed within 1.5 × timeout, " +
      "terminate sees timeout once",
    options: { timeout: T },
    async run(ctx) {
      using raw = await Raw.connect(ctx.server.port);
      await raw.write(upgradeRequest({}, `GET /?tick=${T / 4} HTTP/1.1`));
      same((await raw.response()).status, 101, "upgrade status");
      const opened = Date.now();
      const first = await raw.readFrame(ctx.waitMs);
      const hello = decoder.decode(first?.payload);
      check(hello.startsWith("id:"), `id message ${hello}`);
      // From here on the peer reads nothing and answers nothing, while mail is pushed to it.
      const [report] = await ctx.reports(Number(hello.slice(3)));
      const after = Date.now() - opened;
      same(report.reason.type, "timeout", "terminate reason");
      check(after >= 0.75 * T, `closed ${after} ms after the upgrade, before timeout ${T}`);
      check(after <= 1.5 * T, `closed ${after} ms after the upgrade, over 1.5 × timeout ${T}`);
      // What reached the peer meanwhile: a ping, then a close frame with 1001.
      const opcodes: number[] = [];
      let code = 0;
      for (let frame; (frame = await raw.readFrame(ctx.waitMs)) !== null;) {
        opcodes.push(frame.opcode);
        if (frame.opcode !== 8) continue;
        code = frame.payload.length >= 2 ? (frame.payload[0] << 8) | frame.payload[1] : 1005;
        break;
      }
      check(opcodes.includes(9), `no ping before the close (frames ${opcodes.join(",")})`);
      same(code, 1001, "close code");
      await delay(T / 4);
      same((await ctx.reports(Number(hello.slice(3)))).length, 1, "terminate calls");
    },
  },
  {
    name: "keep-alive: a peer that keeps sending data is never pinged",
    options: { timeout: T },
    async run(ctx) {
      const client = await ctx.connect();
      const until = Date.now() + 1.5 * T;
      for (let i = 0; Date.now() < until; i++) {
        client.socket.send(`talk ${i}`);
        same(await client.take(1, ctx.waitMs), [`talk ${i}`], "echo");
        await delay(T / 8);
      }
      same(client.pings.length, 0, "pings sent to a talking peer");
      await client.close();
    },
  },
];
