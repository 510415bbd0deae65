// Do async message handlers of one connection overlap? For raw Deno.upgradeWebSocket, Hono,
// crossws, Socket.IO (on node:http under Deno, its own client over WebSocket) and WebSock: an async handler that awaits 20 ms for the first message, 18 for the second, ... 2 for the
// tenth, 10 messages sent at once
// on one connection; counts how many handler calls started while another was still running,
// and whether the replies came back in order. The README's comparison table quotes it.
//
//   deno run --lock=deno.lock -A bench/interleave.ts

import { createServer } from "node:http";
import crossws from "npm:crossws@0.4.17/adapters/deno";
import { Server as SocketIoServer } from "npm:socket.io@4.8.4";
import { io as socketIoClient } from "npm:socket.io-client@4.8.4";
import { Hono } from "npm:hono@4.13.19";
import { upgradeWebSocket } from "npm:hono@4.13.19/deno";
import { push, type WebSock } from "../mod.ts";
import { websockHandler } from "../adapters/deno.ts";

const MESSAGES = 10;
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One counter per contestant: an async handler body that notes overlaps. */
function probe() {
  const seen = { active: 0, overlaps: 0 };
  async function handle(data: string): Promise<string> {
    if (++seen.active > 1) seen.overlaps++;
    await delay(2 * (MESSAGES - Number(data))); // the first message waits longest
    seen.active--;
    return data;
  }
  return { seen, handle };
}

type Fetch = (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;

function raw(handle: (data: string) => Promise<string>): Fetch {
  return (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = async (event) => socket.send(await handle(event.data));
    return response;
  };
}

function hono(handle: (data: string) => Promise<string>): Fetch {
  const app = new Hono();
  app.get(
    "/",
    upgradeWebSocket(() => ({
      onMessage: async (event, ws) => ws.send(await handle(event.data as string)),
    })),
  );
  return (request, info) => app.fetch(request, info);
}

function crossWs(handle: (data: string) => Promise<string>): Fetch {
  const ws = crossws({
    hooks: { message: async (peer, message) => void peer.send(await handle(message.text())) },
  });
  return (request, info) => ws.handleUpgrade(request, info as never);
}

function websock(handle: (data: string) => Promise<string>): Fetch {
  const Handler = {
    init: () => push([], null),
    handleIn: async (data, state) => push(await handle(String(data)), state),
  } satisfies WebSock<null>;
  return websockHandler(Handler, { origins: "*" });
}

async function run(name: string, make: (handle: (data: string) => Promise<string>) => Fetch) {
  const { seen, handle } = probe();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, make(handle));
  const socket = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
  const replies: string[] = [];
  await new Promise((resolve) => (socket.onopen = resolve));
  const done = new Promise<void>((resolve) => {
    socket.onmessage = (event) => {
      replies.push(event.data);
      if (replies.length === MESSAGES) resolve();
    };
  });
  for (let i = 0; i < MESSAGES; i++) socket.send(String(i));
  await Promise.race([done, delay(10_000)]);
  const closed = new Promise((resolve) => (socket.onclose = resolve));
  socket.close();
  await closed;
  await server.shutdown();
  report(name, seen.overlaps, replies);
}

/** Socket.IO speaks its own protocol: its server on node:http, its client, WebSocket only. */
async function runSocketIo(name: string) {
  const { seen, handle } = probe();
  const http = createServer();
  const server = new SocketIoServer(http);
  server.on("connection", (socket) => {
    socket.on("message", async (data: string) => socket.send(await handle(data)));
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", () => resolve()));
  const { port } = http.address() as { port: number };
  const client = socketIoClient(`http://127.0.0.1:${port}`, { transports: ["websocket"] });
  const replies: string[] = [];
  const done = new Promise<void>((resolve) =>
    client.on("message", (data: string) => {
      replies.push(data);
      if (replies.length === MESSAGES) resolve();
    })
  );
  await new Promise<void>((resolve) => client.on("connect", () => resolve()));
  for (let i = 0; i < MESSAGES; i++) client.send(String(i));
  await Promise.race([done, delay(10_000)]);
  client.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  report(name, seen.overlaps, replies);
}

function report(name: string, overlaps: number, replies: string[]): void {
  const inOrder = replies.join(",") === [...Array(MESSAGES).keys()].join(",");
  console.log(`| ${name} | ${overlaps} of ${MESSAGES - 1} | ${inOrder ? "yes" : "no"} |`);
}

console.log(`| server | handler calls that overlapped another | replies in order |`);
console.log(`| --- | --- | --- |`);
await run("raw Deno.upgradeWebSocket", raw);
await run("Hono 4.13.19 (hono/deno)", hono);
await run("crossws 0.4.17 (deno adapter)", crossWs);
await runSocketIo("Socket.IO 4.8.4 (node:http under Deno)");
await run("WebSock", websock);
