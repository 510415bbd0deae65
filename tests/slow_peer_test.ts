// The slow-peer rule (`maxBufferedBytes`, engine/_slow_peer.ts) on the real engine with a
// simulated send buffer; tests/conformance*.ts check it over real sockets on every adapter.

import assert from "node:assert/strict";
import { type Connection, ok, push, type WebSock } from "../mod.ts";
import { TestConnection } from "../testing/mod.ts";

// Pushes `size` bytes when told a size, in one message or in a list of `count`.
const Pusher = {
  init: (_arg: undefined, _connection: Connection<never>) => ok(null),
  handleIn(data: string | Uint8Array, state: null) {
    const [size, count = "1"] = String(data).split("x");
    const one = new Uint8Array(Number(size));
    return push(Array.from({ length: Number(count) }, () => one), state);
  },
  handleInfo: (_message: never, state: null) => ok(state),
} satisfies WebSock<null, never, undefined>;

const MAX = 1000; // checkBufferedEvery is then 250

function bytesSent(conn: TestConnection<null, never, undefined>): number {
  return conn.sent.reduce((n, m) => n + (m.data as Uint8Array).byteLength, 0);
}

Deno.test("maxBufferedBytes: one message larger than the bound never closes a peer that takes it", async () => {
  const conn = await TestConnection.start(Pusher, { arg: undefined, maxBufferedBytes: MAX });
  // All 5,000 bytes still wait once queued, and still when the next message is queued: they
  // were queued since the last look, so they do not count.
  conn.setBufferedAmount(5000);
  await conn.receive("5000");
  assert.equal(conn.closeFrame, null);
  await conn.receive("10");
  assert.equal(conn.closeFrame, null);
  // The peer took them; a list of large messages behind each other is fine too.
  conn.setBufferedAmount(0);
  await conn.receive("5000x3");
  assert.equal(conn.closeFrame, null);
  assert.equal(bytesSent(conn), 20010);
});

Deno.test("maxBufferedBytes: more than the bound still unread from before the last look closes with 1008", async () => {
  const conn = await TestConnection.start(Pusher, { arg: undefined, maxBufferedBytes: MAX });
  await conn.receive("5000"); // look 0 (none yet), then 5,000 queued
  conn.setBufferedAmount(5000);
  await conn.receive("300"); // look 1: 5,000 - 5,000 unread from before: fine
  conn.setBufferedAmount(5300); // the peer read nothing
  await conn.receive("10"); // look 2: 5,300 - 300 = 5,000 unread from before look 1
  assert.deepEqual(conn.closeFrame, { code: 1008, reason: "Peer is not reading" });
  const reason = conn.terminateReason;
  assert.ok(reason?.type === "error" && reason.error instanceof RangeError);
  assert.match((reason.error as Error).message, /5000 bytes .* more than maxBufferedBytes 1000/);
  assert.equal(bytesSent(conn), 5300, "the message at hand is not sent");
});

Deno.test("maxBufferedBytes: a peer that never reads holds at most max + 2 × (checkBufferedEvery + largest message)", async () => {
  for (const size of [1, 100, 249, 250, 999, 1001, 4000]) {
    const conn = await TestConnection.start(Pusher, { arg: undefined, maxBufferedBytes: MAX });
    for (let i = 0; i < 10_000 && conn.closeFrame === null; i++) {
      conn.setBufferedAmount(bytesSent(conn)); // nothing is ever read
      await conn.receive(String(size));
    }
    assert.equal(conn.closeFrame?.code, 1008, `size ${size}`);
    const bound = MAX + 2 * (250 + size);
    assert.ok(bytesSent(conn) <= bound, `size ${size}: ${bytesSent(conn)} > ${bound}`);
  }
});
