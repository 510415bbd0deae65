// permessage-deflate on what the server sends: the Node adapter under real Node and the Bun
// adapter under real Bun, each serving the echo fixture with `perMessageDeflate: true`, echo
// 16 KiB texts to a raw client that offers the extension as browsers do: a repeated sentence,
// and chat-like JSON (seeded pseudo-random ids, names and phrases). Prints the bytes on the
// wire over the bytes of the message (the compression ratio), for the first echo and over 20
// echoes on one connection (later ones gain from context takeover where the server keeps it).
//
//   deno run -A bench/compression.ts

import { Raw, upgradeRequest } from "../testing/_raw.ts";
import { bundleNodeServer, findBun, findNode, startChild } from "../tests/_adapter_suite.ts";

const root = new URL("..", import.meta.url).pathname;
const SENTENCE = "websock conformance: a compressible sentence, repeated. ".repeat(293);
const ECHOES = 20;

// Chat-like JSON: `{"id":…,"user":…,"text":…,"at":…}` records, cut to 16 KiB.
function chat(): string {
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const users = ["ann", "bob", "chidi", "dana", "eitan", "fatima", "gus", "hana"];
  const words = ["hi", "the", "build", "is", "green", "again", "who", "broke", "main", "lunch"];
  const records = [];
  for (let i = 0; records.join(",").length < 16384; i++) {
    const text = Array.from(
      { length: 3 + Math.floor(next() * 8) },
      () => words[Math.floor(next() * words.length)],
    ).join(" ");
    records.push(JSON.stringify({
      id: Math.floor(next() * 1e9),
      user: users[Math.floor(next() * users.length)],
      text,
      at: 1_700_000_000_000 + i * Math.floor(next() * 5000),
    }));
  }
  return `[${records.join(",")}]`.slice(0, 16384);
}

const TEXTS: [string, string][] = [
  ["repeated sentence", SENTENCE.slice(0, 16384)],
  ["chat JSON", chat()],
];

async function measure(
  port: number,
  text: string,
): Promise<{ extension: string; first: number; all: number }> {
  using raw = await Raw.connect(port);
  await raw.write(upgradeRequest({
    Host: `127.0.0.1:${port}`,
    "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
  }));
  const response = await raw.response();
  const extension = response.headers.get("sec-websocket-extensions") ?? "";
  const sizes: number[] = [];
  for (let i = 0; i < ECHOES; i++) {
    await raw.frame(1, text);
    const frame = await raw.readFrame(5000);
    if (frame === null) throw new Error("No echo");
    sizes.push(frame.payload.byteLength);
  }
  await raw.frame(8, new Uint8Array([0x03, 0xe8]));
  await raw.readClose();
  const sum = sizes.reduce((a, b) => a + b, 0);
  return { extension, first: sizes[0] / text.length, all: sum / (text.length * ECHOES) };
}

const servers: [string, string | undefined, () => Promise<string>][] = [
  ["Node 20 (ws)", await findNode(), () => bundleNodeServer()],
  ["Bun 1.4.4", await findBun(), () => Promise.resolve(`${root}tests/fixtures/bun_server.ts`)],
];
console.log(`| server | text | negotiated | first echo | ${ECHOES} echoes |`);
console.log("| --- | --- | --- | --- | --- |");
for (const [name, binary, script] of servers) {
  if (binary === undefined) {
    console.log(`| ${name} | not installed | | |`);
    continue;
  }
  const server = await startChild(binary, [
    await script(),
    "--handler",
    "echo",
    "--options",
    JSON.stringify({ perMessageDeflate: true, maxMessageBytes: 65536 }),
  ]);
  try {
    for (const [kind, text] of TEXTS) {
      const { extension, first, all } = await measure(server.port, text);
      console.log(`| ${name} | ${kind} | ${extension} | ${first.toFixed(3)} | ${all.toFixed(3)} |`);
    }
  } finally {
    await server.close();
  }
}
