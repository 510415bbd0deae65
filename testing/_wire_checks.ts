// The conformance suite's wire checks, from what independent clients (Autobahn|Testsuite, raw
// sockets) found: what a peer's protocol error tells `terminate`, the slow-peer bound against
// peers that read and peers that do not, and permessage-deflate on what the server sends. Each
// group is one array that conformance.ts appends to the suite.

import { Buffer } from "node:buffer";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { closePayload, encodeFrame, Raw, upgradeRequest } from "./_raw.ts";
import { check, type Client, same } from "./_client.ts";
import type { ConformanceReport } from "./conformance_handler.ts";

/** The part of the suite's context these checks use. */
export interface WireContext {
  readonly server: { readonly port: number };
  readonly waitMs: number;
  connect(path?: string): Promise<Client>;
  id(client: Client): Promise<number>;
  reports(id: number, count?: number): Promise<ConformanceReport[]>;
}

/** A wire check, shaped like the suite's own. */
export interface WireCheck {
  readonly name: string;
  readonly options?: {
    readonly maxBufferedBytes?: number;
    readonly maxMessageBytes?: number;
    readonly maxQueuedEvents?: number;
    readonly perMessageDeflate?: boolean;
  };
  run(ctx: WireContext): Promise<void>;
}

const decoder = new TextDecoder();
const DEFLATE = { "Sec-WebSocket-Extensions": "permessage-deflate" };
// A compressible text message: 16 KiB of a repeated sentence.
const COMPRESSIBLE = "websock conformance: a compressible sentence, repeated. ".repeat(293).slice(
  0,
  16 * 1024,
);

// Upgrade a raw connection (with extra request headers); returns the 101's extensions.
async function rawOpen(raw: Raw, headers: Record<string, string> = {}): Promise<string> {
  await raw.write(upgradeRequest(headers));
  const response = await raw.response();
  same(response.status, 101, "upgrade status");
  return response.headers.get("sec-websocket-extensions") ?? "";
}

// Ask a raw connection's id; the answer may come compressed (as the server's first message).
async function rawId(ctx: WireContext, raw: Raw): Promise<number> {
  await raw.frame(1, "id");
  const frame = await raw.readFrame(ctx.waitMs);
  check(frame !== null, "an answer to id");
  const answer = decoder.decode(frame.rsv1 ? inflate(frame.payload) : frame.payload);
  check(answer.startsWith("id:"), `id answer ${answer}`);
  return Number(answer.slice(3));
}

// Read until the server's close frame (its code) or the end of the connection (null); a data
// frame first means the server accepted what it should have refused.
async function closeCode(ctx: WireContext, raw: Raw): Promise<number | null> {
  for (;;) {
    const frame = await raw.readFrame(ctx.waitMs);
    if (frame === null) return null;
    check(frame.opcode !== 1 && frame.opcode !== 2, "the server accepted the frame and answered");
    if (frame.opcode === 8) {
      return frame.payload.length >= 2 ? (frame.payload[0] << 8) | frame.payload[1] : 1005;
    }
  }
}

// (1) A protocol error of the peer is the peer's fault, not a close it asked for: `terminate`
// sees an error that says what the peer did, on every adapter.
export const PROTOCOL_ERROR_CHECKS: WireCheck[] = ([
  ["invalid UTF-8 in a text frame", encodeFrame(1, new Uint8Array([0xc3, 0x28]))],
  ["an unknown opcode", encodeFrame(3, "?")],
  ["a frame with RSV1 set and no extension", encodeFrame(1, "hi", { rsv1: true })],
  ["a 126-byte ping", encodeFrame(9, new Uint8Array(126))],
  ["a close frame with code 999", encodeFrame(8, closePayload(999))],
  ["an unmasked frame", encodeFrame(1, "hi", { mask: false })],
] as const).map(([what, bytes]): WireCheck => ({
  name: `protocol error: ${what} reaches terminate as an error`,
  async run(ctx) {
    using raw = await Raw.connect(ctx.server.port);
    await rawOpen(raw);
    const id = await rawId(ctx, raw);
    await raw.write(bytes);
    // Like a peer that gives up: wait for the server's close (or the end), then drop TCP.
    await closeCode(ctx, raw);
    raw.close();
    const [report] = await ctx.reports(id);
    same(report.reason.type, "error", "terminate reason");
    check((report.reason.error ?? "").length > 0, "the error says what the peer did");
  },
}));

// (1b) A peer whose connection drops without a close frame (1006) did not close: `terminate`
// sees an error (code CONNECTION_LOST where the runtime gives no error of its own), the same
// on every adapter, never `remote` with a code the peer did not send.
export const CONNECTION_LOST_CHECKS: WireCheck[] = [
  {
    name: "a connection dropped without a close frame reaches terminate as an error",
    async run(ctx) {
      const raw = await Raw.connect(ctx.server.port);
      await rawOpen(raw);
      const id = await rawId(ctx, raw);
      raw.close(); // TCP goes, no close frame
      const [report] = await ctx.reports(id);
      same(report.reason.type, "error", "terminate reason");
      same(
        report.reason.error,
        "Error: Connection lost: it ended without a close frame (1006)",
        "the error",
      );
    },
  },
];

/**
 * The bound on how long a peer that does not answer the server's close frame keeps its TCP
 * connection: Node drops it after 4 s (ws's `closeTimeout`); Bun ends its side at once and
 * uWebSockets drops the connection about 4 s later (not configurable from Bun). Deno has no
 * way to drop a server WebSocket's connection: it stays until the peer's TCP goes.
 */
export const CLOSE_GRACE_MS = 5000;

// (1c) A peer that never answers the server's close frame (a dead one, or one that does not
// read) does not hold its connection for long after it.
export const CLOSE_GRACE_CHECKS: WireCheck[] = [
  {
    name: `a peer that never answers the close frame is dropped within ${CLOSE_GRACE_MS} ms`,
    async run(ctx) {
      using raw = await Raw.connect(ctx.server.port);
      await rawOpen(raw);
      await raw.frame(1, "close:4000:bye");
      same((await raw.readClose())?.code, 4000, "the server's close code");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<false>((resolve) => {
        timer = setTimeout(resolve, CLOSE_GRACE_MS + ctx.waitMs, false);
      });
      const dropped = await Promise.race([raw.drain().then(() => true), late]);
      clearTimeout(timer);
      check(
        dropped,
        `the connection is still open ${CLOSE_GRACE_MS + ctx.waitMs} ms after the close frame`,
      );
    },
  },
];

// (2) The slow-peer bound (`maxBufferedBytes`) is for peers that do not read, not for one
// large message to a peer that does.
export const SLOW_PEER_CHECKS: WireCheck[] = [
  {
    name:
      "maxBufferedBytes: a reading peer that receives one message of maxBufferedBytes + 1 MiB " +
      "stays open",
    options: { maxBufferedBytes: 4 * 1024 * 1024 },
    async run(ctx) {
      using raw = await Raw.connect(ctx.server.port);
      await rawOpen(raw);
      const id = await rawId(ctx, raw);
      const size = 5 * 1024 * 1024;
      await raw.frame(1, `flood:1:${size}`);
      await raw.frame(1, "right after");
      // Read a little late, as a peer on a slow link does: most of the large message still
      // waits in the server (the kernel takes about 1 MiB) when the next is queued behind it.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const large = await raw.readFrame(ctx.waitMs);
      check(large?.opcode === 2 && large.payload.byteLength === size, "the large message whole");
      const after = await raw.readFrame(ctx.waitMs);
      same(decoder.decode(after?.payload), "right after", "the message after it");
      await raw.frame(1, "still open");
      same(decoder.decode((await raw.readFrame(ctx.waitMs))?.payload), "still open", "echo");
      await raw.frame(8, closePayload(1000));
      same(await closeCode(ctx, raw), 1000, "the server's answer to the peer's close");
      raw.close();
      const [report] = await ctx.reports(id);
      same(report.reason, { type: "remote", code: 1000, reason: "" }, "terminate");
    },
  },
  {
    name: "maxBufferedBytes: a peer that does not read is closed with 1008 within bounded memory " +
      "and terminate sees an error",
    options: { maxBufferedBytes: 256 * 1024 },
    async run(ctx) {
      using raw = await Raw.connect(ctx.server.port);
      await rawOpen(raw);
      const id = await rawId(ctx, raw);
      await raw.frame(1, "flood:4000:65536");
      // Never read until terminate ran: 256 MiB would have to be buffered.
      const [report] = await ctx.reports(id);
      same(report.reason.type, "error", "terminate reason");
      // Now read what was sent: a bounded amount, then the close frame.
      let bytes = 0;
      for (;;) {
        const frame = await raw.readFrame(ctx.waitMs);
        check(frame !== null, `the connection ended without a close frame after ${bytes} bytes`);
        if (frame.opcode === 8) {
          same((frame.payload[0] << 8) | frame.payload[1], 1008, "close code");
          break;
        }
        bytes += frame.payload.byteLength;
      }
      check(bytes < 64 * 1024 * 1024, `${bytes} bytes were sent before the close`);
    },
  },
];

// Write `frame` `count` times in 64 KiB writes, as fast as the server takes them; stops
// quietly when the server ends the connection (a flooder does not care).
async function flood(raw: Raw, frame: Uint8Array, count: number): Promise<void> {
  const perChunk = Math.max(1, Math.floor(65536 / frame.byteLength));
  const chunk = new Uint8Array(frame.byteLength * perChunk);
  for (let i = 0; i < perChunk; i++) chunk.set(frame, i * frame.byteLength);
  try {
    for (let sent = 0; sent < count; sent += perChunk) {
      await raw.write(chunk.subarray(0, Math.min(perChunk, count - sent) * frame.byteLength));
    }
  } catch {
    // reset or closed by the server
  }
}

// Flood while the server decides to close; its close frame must still reach the peer (not a
// reset, an end of the connection or silence).
async function closeUnderFlood(ctx: WireContext, raw: Raw, frame: Uint8Array): Promise<number> {
  const writing = flood(raw, frame, FLOOD);
  try {
    const code = await closeCode(ctx, raw);
    check(code !== null, "no close frame: the connection was reset or ended without one");
    return code;
  } finally {
    raw.close();
    await writing;
  }
}

// A flood of 50,000 messages (about 550 KB), as the attack suite sent.
const FLOOD = 50_000;

// (3) A close decided while the peer floods reaches the peer: the server must not drop TCP
// with the flood unread before its close frame is out (Deno did: the peer saw a reset).
export const FLOOD_CLOSE_CHECKS: WireCheck[] = [
  {
    name: "flood: a handleIn that throws under a 50,000-message flood still closes with 1011",
    async run(ctx) {
      using raw = await Raw.connect(ctx.server.port);
      await rawOpen(raw);
      const id = await rawId(ctx, raw);
      same(await closeUnderFlood(ctx, raw, encodeFrame(1, "throw")), 1011, "close code");
      const [report] = await ctx.reports(id);
      same(report.reason.type, "error", "terminate reason");
    },
  },
  {
    name: "flood: a handleIn that never settles under a 50,000-message flood closes with 1013",
    options: { maxQueuedEvents: 64 },
    async run(ctx) {
      using raw = await Raw.connect(ctx.server.port);
      await rawOpen(raw);
      await raw.frame(1, "hang");
      same(await closeUnderFlood(ctx, raw, encodeFrame(1, "flooding")), 1013, "close code");
    },
  },
];

// One text message as `count` frames of `bytes` each (the first a text frame, then
// continuations, the last with FIN), masked, in one buffer.
function fragmented(count: number, bytes: number): Uint8Array {
  const payload = new Uint8Array(bytes).fill(0x61); // "a"
  const first = encodeFrame(1, payload, { fin: false });
  const middle = encodeFrame(0, payload, { fin: false });
  const out = new Uint8Array(first.byteLength * count);
  out.set(first);
  for (let i = 1; i < count - 1; i++) out.set(middle, i * middle.byteLength);
  out.set(encodeFrame(0, payload), (count - 1) * middle.byteLength);
  return out;
}

// (4) Fragmentation is not a limit of its own: a message is judged by its size
// (`maxMessageBytes`, 1009), however many frames it came in (ws's default limit of 16,384
// fragments closed these with 1008).
export const FRAGMENT_CHECKS: WireCheck[] = [
  {
    name: "fragments: a message of 100,000 frames of 8 B (under maxMessageBytes) is echoed whole",
    async run(ctx) {
      using raw = await Raw.connect(ctx.server.port);
      await rawOpen(raw);
      const writing = raw.write(fragmented(100_000, 8));
      const echo = await raw.readFrame(ctx.waitMs);
      await writing;
      check(echo !== null && echo.opcode === 1, "a text frame back");
      same(echo.payload.byteLength, 800_000, "bytes of the echo");
      check(echo.payload.every((byte) => byte === 0x61), "the echo is the message");
      await raw.frame(8, closePayload(1000));
      same(await closeCode(ctx, raw), 1000, "the server's answer to the peer's close");
    },
  },
  {
    name: "fragments: a message of 100,000 frames of 11 B (over maxMessageBytes) closes with 1009",
    async run(ctx) {
      using raw = await Raw.connect(ctx.server.port);
      await rawOpen(raw);
      const id = await rawId(ctx, raw);
      const writing = raw.write(fragmented(100_000, 11)).catch(() => {});
      try {
        same(await closeCode(ctx, raw), 1009, "close code");
      } finally {
        raw.close();
        await writing;
      }
      const [report] = await ctx.reports(id);
      same(report.reason.type, "error", "terminate reason");
    },
  },
];

// Compress one message as a permessage-deflate sender does (RFC 7692 §7.2.1).
function deflate(data: Uint8Array): Uint8Array {
  const out = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength - 4);
}

function inflate(data: Uint8Array): Uint8Array {
  const tail = new Uint8Array([0, 0, 0xff, 0xff]);
  return new Uint8Array(
    inflateRawSync(Buffer.concat([data, tail]), { finishFlush: constants.Z_SYNC_FLUSH }),
  );
}

// (5) With `perMessageDeflate`, what the server sends is compressed, and what it receives is
// still bounded by `maxMessageBytes` after inflating.
export const COMPRESSION_CHECKS: WireCheck[] = [
  {
    name: "perMessageDeflate: a compressible message reaches the peer compressed",
    options: { perMessageDeflate: true },
    async run(ctx) {
      using raw = await Raw.connect(ctx.server.port);
      const extensions = await rawOpen(raw, DEFLATE);
      check(extensions.includes("permessage-deflate"), `extensions: "${extensions}"`);
      await raw.frame(1, COMPRESSIBLE); // uncompressed (RSV1 clear): allowed
      const frame = await raw.readFrame(ctx.waitMs);
      check(frame !== null && frame.opcode === 1, "a text frame back");
      check(frame.rsv1, "the echo is compressed (RSV1 set)");
      check(
        frame.payload.byteLength < COMPRESSIBLE.length / 4,
        `${frame.payload.byteLength} bytes on the wire for ${COMPRESSIBLE.length}`,
      );
      same(decoder.decode(inflate(frame.payload)), COMPRESSIBLE, "the inflated echo");
      await raw.frame(8, closePayload(1000));
      await raw.readClose();
    },
  },
  {
    name: "perMessageDeflate: a message that inflates past maxMessageBytes closes with 1009 and " +
      "terminate sees an error",
    options: { perMessageDeflate: true, maxMessageBytes: 64 * 1024 },
    async run(ctx) {
      using raw = await Raw.connect(ctx.server.port);
      await rawOpen(raw, DEFLATE);
      const id = await rawId(ctx, raw);
      // 1 MiB of zeros, about 1 KiB on the wire.
      await raw.write(encodeFrame(2, deflate(new Uint8Array(1024 * 1024)), { rsv1: true }));
      same(await closeCode(ctx, raw), 1009, "close code");
      raw.close();
      const [report] = await ctx.reports(id);
      same(report.reason.type, "error", "terminate reason");
    },
  },
];

// Without compression support, `perMessageDeflate: true` is declined, not half-done.
export const NO_COMPRESSION_CHECKS: WireCheck[] = [
  {
    name: "perMessageDeflate: an adapter without compression declines the extension",
    options: { perMessageDeflate: true },
    async run(ctx) {
      using raw = await Raw.connect(ctx.server.port);
      same(await rawOpen(raw, DEFLATE), "", "Sec-WebSocket-Extensions of the 101");
      await raw.frame(1, COMPRESSIBLE);
      const frame = await raw.readFrame(ctx.waitMs);
      check(frame !== null && !frame.rsv1, "an uncompressed echo");
      same(decoder.decode(frame.payload), COMPRESSIBLE, "the echo");
      await raw.frame(8, closePayload(1000));
      await raw.readClose();
    },
  },
];
