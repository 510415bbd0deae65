// The load generator of bench/channels_bench.ts (Deno's WebSocket client):
//   deno run -A bench/channels_client.ts '{"port":P,"mode":"channels|fast|plain","task":"fan|rtt","conns":N}'
// fan: opens N connections (channels: each joins "room:bench"), prints {"ready": N}, then per
//   broadcast round {"round", "count", "last"} once every connection has it.
// rtt: opens N connections, prints {"ready"}, waits for "go MS" on stdin, then each
//   connection does push/reply (channels) or send/echo (plain) round trips, one in flight,
//   for MS milliseconds; prints {"count", "ms"}.
// Exits when stdin closes or after two minutes of nothing.

const config = JSON.parse(Deno.args[0]) as {
  port: number;
  mode: "channels" | "fast" | "plain";
  task: "fan" | "rtt";
  conns: number;
  size?: number;
};
const out = (object: unknown) => console.log(JSON.stringify(object));
const limit = setTimeout(() => Deno.exit(3), 120_000);
const base = `ws://127.0.0.1:${config.port}`;
const url = config.mode === "channels"
  ? `${base}/socket/websocket?vsn=2.0.0`
  : `${base}/plain${config.mode === "fast" ? "?sub=1" : ""}`;
const payload = "x".repeat(Math.max(0, (config.size ?? 100) - 10));
const sockets: WebSocket[] = [];
const rounds = new Map<string, number>();

function open(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, config.mode === "channels" ? ["phoenix"] : []);
    socket.onerror = () => reject(new Error("connect failed"));
    socket.onopen = () => {
      if (config.mode !== "channels") return resolve(socket);
      socket.onmessage = () => resolve(socket); // the join reply
      socket.send(JSON.stringify(["1", "1", "room:bench", "phx_join", {}]));
    };
  });
}

// Open with bounded concurrency.
let next = 0;
await Promise.all(Array.from({ length: Math.min(100, config.conns) }, async () => {
  while (next < config.conns) {
    next++;
    sockets.push(await open());
  }
}));

if (config.task === "fan") {
  const n = sockets.length;
  for (const socket of sockets) {
    socket.onmessage = (event) => {
      const text = event.data as string;
      const at = text.indexOf('"round":"') + 9;
      const round = text.slice(at, text.indexOf('"', at));
      const count = (rounds.get(round) ?? 0) + 1;
      rounds.set(round, count);
      if (count === n) out({ round, count, last: performance.timeOrigin + performance.now() });
    };
  }
  out({ ready: n });
}

let running = false;
let count = 0;
function roundTrip(socket: WebSocket, i: number): void {
  let ref = 0;
  const send = () => {
    ref++;
    socket.send(
      config.mode === "channels"
        ? `["1","${ref}","room:bench","ping",{"i":${i},"p":"${payload.slice(0, 40)}"}]`
        : `{"i":${i},"ref":${ref},"p":"${payload.slice(0, 40)}"}`,
    );
  };
  socket.onmessage = () => {
    count++;
    if (running) send();
  };
  send();
}

if (config.task === "rtt") out({ ready: sockets.length });

const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let buffer = "";
for await (const chunk of lines) {
  buffer += chunk;
  let i: number;
  while ((i = buffer.indexOf("\n")) >= 0) {
    const line = buffer.slice(0, i);
    buffer = buffer.slice(i + 1);
    if (!line.startsWith("go ")) continue;
    const ms = Number(line.slice(3));
    count = 0;
    running = true;
    const start = performance.now();
    sockets.forEach(roundTrip);
    await new Promise((resolve) => setTimeout(resolve, ms));
    running = false; // the replies in flight still arrive, and are not counted
    out({ count, ms: performance.now() - start });
  }
}
clearTimeout(limit);
for (const socket of sockets) socket.close();
Deno.exit(0);
