// The fan-out load generator of bench/fanout.ts, for Node: opens `conns` WebSocket connections
// from one loopback source address with raw TCP (a hand-made handshake and frame parser: a few
// hundred bytes per connection, so that one process holds tens of thousands), answers pings,
// and reports each fan-out round once all of its connections have the round's message:
//   node bench/fanout_client.mjs '{"port":P,"src":"127.0.0.2","conns":N,"concurrency":128}'
// With "topics":T (bench/scale.ts, examples/scale), connection k asks for `/?topic=t<j>`, j =
// (offset + k) mod T, and each round publishes one message to every topic.
// Lines out (JSON): {"ready","failed","ms"} once connected; {"round","count","first","last"}
// per round (wall-clock ms: performance.timeOrigin + now) once every connection still open has
// it (a connection the server closed no longer counts: "closed" says how many). Lines in:
// "report ROUND" prints a round's count so far. Exits when stdin closes or after `limitMs`
// (default 20 minutes).
import net from "node:net";
import process from "node:process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";

const {
  port,
  src = "127.0.0.1",
  conns,
  concurrency = 128,
  limitMs = 1_200_000,
  topics = 0,
  offset = 0,
} = JSON.parse(process.argv[2]);
setTimeout(() => process.exit(3), limitMs).unref();
const wall = () => performance.timeOrigin + performance.now();
const out = (object) => process.stdout.write(JSON.stringify(object) + "\n");

const key = randomBytes(16).toString("base64");
const requestFor = (path) =>
  Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
const request = requestFor("/");
const requests = Array.from({ length: topics }, (_, j) => requestFor(`/?topic=t${j}`));
const sockets = [];
const rounds = new Map(); // round -> { count, first, last }
let ready = 0, failed = 0, started = 0, closed = 0;
const setupStart = performance.now();

// A masked client frame (pong replies).
function frame(opcode, payload) {
  const mask = randomBytes(4);
  const head = Buffer.from([0x80 | opcode, 0x80 | payload.length]);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
  return Buffer.concat([head, mask, body]);
}

function received(payload) {
  const colon = payload.indexOf(58); // ":"
  const round = payload.toString("latin1", 0, colon < 0 ? Math.min(32, payload.length) : colon);
  const now = wall();
  let r = rounds.get(round);
  if (r === undefined) rounds.set(round, r = { count: 0, first: now, last: now });
  r.count++;
  r.last = now;
  complete(round, r);
}

// A round is complete once every connection still open has it.
function complete(round, r) {
  if (r.reported || r.count < ready - closed) return;
  r.reported = true;
  out({ round, count: r.count, first: r.first, last: r.last, closed });
}

// Source ports are picked here, in turn over 1024 up to the ephemeral range (below
// ip_local_port_range, so that other connect()s of the machine keep theirs), not by the kernel:
// bind() to port 0 searches the ephemeral range for a port no socket of any address holds,
// which costs more the more are taken (with 8 addresses × 12,500 it was most of the setup time,
// in the kernel), and explicit binds inside that range starve everyone's connect() of ports.
// A port in use (EADDRINUSE) is skipped: the next one is tried, at most 100 times.
const [low, high] = (() => {
  try {
    const first = Number(
      readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0],
    );
    return first > 2048 ? [1024, first - 1] : [1024, 65535];
  } catch {
    return [1024, 32767];
  }
})();
let nextPort = low + Math.floor(Math.random() * (high - low));
const localPort = () => (nextPort = nextPort >= high ? low : nextPort + 1);

function open(k = started++, attempt = 0) {
  const socket = net.connect({
    host: "127.0.0.1",
    port,
    localAddress: src,
    localPort: localPort(),
  });
  let retry = false;
  let upgraded = false;
  let counted = false;
  let buffer = Buffer.alloc(0);
  socket.setNoDelay(true);
  socket.on("connect", () => {
    socket.write(topics > 0 ? requests[(offset + k) % topics] : request);
  });
  socket.on("data", (chunk) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    if (!upgraded) {
      const end = buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      if (!buffer.toString("latin1", 0, 12).startsWith("HTTP/1.1 101")) return socket.destroy();
      upgraded = true;
      counted = true;
      ready++;
      sockets.push(socket);
      next();
      buffer = buffer.subarray(end + 4);
    }
    while (buffer.length >= 2) {
      const opcode = buffer[0] & 0x0f;
      let length = buffer[1] & 0x7f, offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffer.length < offset + length) return;
      const payload = buffer.subarray(offset, offset + length);
      buffer = buffer.subarray(offset + length);
      if (opcode === 1 || opcode === 2) received(payload);
      else if (opcode === 9) socket.write(frame(10, payload));
      else if (opcode === 8) socket.end();
    }
  });
  socket.on("error", (error) => {
    if (!upgraded && error.code === "EADDRINUSE" && attempt < 100) retry = true;
  });
  socket.on("close", () => {
    if (retry) return open(k, attempt + 1);
    if (!counted) {
      counted = true;
      failed++;
      next();
    } else {
      closed++;
      for (const [round, r] of rounds) complete(round, r);
    }
  });
}

let announced = false;
function next() {
  if (started < conns) open();
  else if (!announced && ready + failed === conns) {
    announced = true;
    out({ ready, failed, ms: performance.now() - setupStart });
  }
}

for (let i = 0; i < Math.min(concurrency, conns); i++) open();

let input = "";
process.stdin.on("data", (chunk) => {
  input += chunk;
  let i;
  while ((i = input.indexOf("\n")) >= 0) {
    const [command, round] = input.slice(0, i).split(" ");
    input = input.slice(i + 1);
    if (command === "report") {
      const r = rounds.get(round) ?? { count: 0, first: 0, last: 0 };
      out({ round, count: r.count, first: r.first, last: r.last, partial: true, closed });
    }
  }
});
process.stdin.on("end", () => {
  for (const socket of sockets) socket.destroy();
  process.exit(0);
});
