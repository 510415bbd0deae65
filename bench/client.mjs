// The load generator: `<runtime> bench/client.mjs '<json config>'`, one JSON line out.
// Runs under Deno and Bun (their WebSocket client) or Node (npm:ws, found in the folder named by
// the WS_DEPS environment variable). Every mode is bounded in time.
import process from "node:process";
import { createRequire } from "node:module";

const config = JSON.parse(process.argv[2]);
const hardLimit = setTimeout(() => {
  console.log(JSON.stringify({ error: "hard time limit" }));
  process.exit(2);
}, (config.duration ?? 0) + (config.warmup ?? 0) + 60_000);

let WS = globalThis.WebSocket;
let nodeWs = false;
if (config.impl === "ws" || WS === undefined) {
  const require = createRequire(`${process.env.WS_DEPS ?? "/tmp/wsb-deps"}/node_modules/`);
  WS = require("ws");
  nodeWs = true;
}

function open(url) {
  const socket = nodeWs ? new WS(url, { perMessageDeflate: false }) : new WS(url);
  socket.binaryType = "arraybuffer";
  return socket;
}

function opened(socket) {
  return new Promise((resolve, reject) => {
    socket.onopen = () => resolve(socket);
    socket.onerror = (event) => reject(new Error(`WebSocket error: ${event.message ?? event}`));
  });
}

async function openMany(url, count, batch = 100) {
  const sockets = [];
  for (let i = 0; i < count; i += batch) {
    const group = [];
    for (let j = i; j < Math.min(count, i + batch); j++) group.push(opened(open(url)));
    sockets.push(...await Promise.all(group));
  }
  return sockets;
}

async function closeAll(sockets) {
  await Promise.race([
    Promise.all(sockets.map((socket) =>
      new Promise((resolve) => {
        if (socket.readyState === 3) return resolve();
        socket.onclose = () => resolve();
        socket.onerror = () => resolve();
        socket.close(1000);
      })
    )),
    sleep(5000),
  ]);
}

// Tell the runner when the measured window starts and ends (it samples the server's CPU).
function mark(phase) {
  console.log(JSON.stringify({ phase }));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function cpu() {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

function payload(size, binary) {
  if (binary) return new Uint8Array(size).fill(120);
  return "x".repeat(size);
}

// Echo throughput: every connection keeps `inflight` messages in flight.
async function echo() {
  const { url, conns, inflight, size, binary, warmup, duration } = config;
  const sockets = await openMany(url, conns);
  const data = payload(size, binary);
  let received = 0;
  let running = true;
  for (const socket of sockets) {
    socket.onmessage = () => {
      received++;
      if (running) socket.send(data);
    };
    for (let i = 0; i < inflight; i++) socket.send(data);
  }
  await sleep(warmup);
  mark("start");
  const start = performance.now();
  const startCount = received;
  const startCpu = cpu();
  await sleep(duration);
  const elapsed = performance.now() - start;
  mark("end");
  const count = received - startCount;
  const clientCpu = (cpu() - startCpu) / elapsed;
  running = false;
  await closeAll(sockets);
  return { rate: count / (elapsed / 1000), clientCpu };
}

// Round-trip latency, one message in flight on one connection.
async function latency() {
  const { url, size, warmup, duration } = config;
  const [socket] = await openMany(url, 1);
  const data = payload(size, false);
  const samples = [];
  let sent = 0;
  let measuring = false;
  let running = true;
  socket.onmessage = () => {
    if (measuring) samples.push(performance.now() - sent);
    if (!running) return;
    sent = performance.now();
    socket.send(data);
  };
  sent = performance.now();
  socket.send(data);
  await sleep(warmup);
  measuring = true;
  mark("start");
  await sleep(duration);
  mark("end");
  running = false;
  measuring = false;
  await closeAll([socket]);
  samples.sort((a, b) => a - b);
  const at = (q) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
  return { p50: at(0.5) * 1000, p99: at(0.99) * 1000, samples: samples.length };
}

// Connection setup rate: `conns` loops, each opens a socket, closes it once open, repeats.
async function setup() {
  const { url, conns, warmup, duration } = config;
  let count = 0;
  let measuring = false;
  let running = true;
  const loop = async () => {
    while (running) {
      const socket = open(url);
      await new Promise((resolve) => {
        socket.onopen = () => {
          if (measuring) count++;
          socket.close(1000);
        };
        socket.onclose = () => resolve();
        socket.onerror = () => resolve();
      });
    }
  };
  const loops = Array.from({ length: conns }, loop);
  await sleep(warmup);
  measuring = true;
  mark("start");
  const start = performance.now();
  await sleep(duration);
  measuring = false;
  mark("end");
  const elapsed = performance.now() - start;
  running = false;
  await Promise.race([Promise.all(loops), sleep(5000)]);
  return { rate: count / (elapsed / 1000) };
}

async function stats(base) {
  const response = await fetch(`${base}/stats`);
  return await response.json();
}

// Idle memory, then broadcast fan-out over the same connections.
async function idle() {
  const { url, conns, reps, size } = config;
  const base = url.replace(/^ws/, "http").replace(/\/$/, "");
  await sleep(200);
  const before = await stats(base);
  const sockets = await openMany(url, conns, 250);
  let received = 0;
  for (const socket of sockets) socket.onmessage = () => received++;
  for (let i = 0; i < 100; i++) {
    if ((await stats(base)).count >= conns) break;
    await sleep(50);
  }
  await sleep(300);
  const after = await stats(base);
  const result = {
    count: after.count,
    rssPerConn: (after.rss - before.rss) / conns,
    heapPerConn: (after.heap - before.heap) / conns,
  };
  if (reps > 0) {
    const response = await fetch(`${base}/broadcast?reps=${reps}&size=${size}`);
    const { times } = await response.json();
    for (let i = 0; i < 200 && received < reps * conns; i++) await sleep(25);
    times.sort((a, b) => a - b);
    result.broadcastMs = times[Math.floor(times.length / 2)];
    result.delivered = received / (reps * conns);
  }
  await closeAll(sockets);
  return result;
}

const modes = { echo, latency, setup, idle };
try {
  const result = await modes[config.mode]();
  console.log(JSON.stringify(result));
  clearTimeout(hardLimit);
  process.exit(0);
} catch (error) {
  console.log(JSON.stringify({ error: String(error?.stack ?? error) }));
  process.exit(1);
}
