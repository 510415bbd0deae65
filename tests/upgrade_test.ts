// The HTTP side: request validation with exact statuses, origin checks, subprotocols, the
// upgrade hook, the fallback, upgrade() in your own routing, and option validation.

import assert from "node:assert/strict";
import { type Connection, ok, push, type WebSock } from "../mod.ts";
import { Registry, upgrade, websockHandler } from "../adapters/deno.ts";
import { checkUpgrade } from "../engine/mod.ts";
import { connect, KEY, Raw, serve, upgradeRequest } from "./_helpers.ts";

const Echo = {
  init: () => ok(null),
  handleIn: (data, state) => push(data, state),
  handleInfo: (_m, state) => ok(state),
} satisfies WebSock<null>;

async function rawStatus(port: number, request: string) {
  using raw = await Raw.connect(port);
  await raw.write(request);
  return await raw.response();
}

const badUpgrades: [string, string, number, RegExp, [string, string]?][] = [
  ["no Upgrade header", upgradeRequest({ Upgrade: null }), 426, /Expected a WebSocket upgrade/, [
    "upgrade",
    "websocket",
  ]],
  ["Upgrade: h2c", upgradeRequest({ Upgrade: "h2c" }), 426, /Expected a WebSocket upgrade/],
  ["no Connection header", upgradeRequest({ Connection: null }), 400, /Connection header/],
  [
    "Connection: keep-alive",
    upgradeRequest({ Connection: "keep-alive" }),
    400,
    /Connection header/,
  ],
  ["no Sec-WebSocket-Key", upgradeRequest({ "Sec-WebSocket-Key": null }), 400, /Key/],
  ["a 15-byte key", upgradeRequest({ "Sec-WebSocket-Key": "AAAAAAAAAAAAAAAAAAAA" }), 400, /Key/],
  ["a non-base64 key", upgradeRequest({ "Sec-WebSocket-Key": "!".repeat(22) + "==" }), 400, /Key/],
  ["version 8", upgradeRequest({ "Sec-WebSocket-Version": "8" }), 426, /version 13/, [
    "sec-websocket-version",
    "13",
  ]],
  ["no version", upgradeRequest({ "Sec-WebSocket-Version": null }), 426, /version 13/, [
    "sec-websocket-version",
    "13",
  ]],
  ["a cross-site Origin", upgradeRequest({ Origin: "https://evil.example" }), 403, /evil/],
];

for (const [name, request, status, body, header] of badUpgrades) {
  Deno.test(`websockHandler() answers an upgrade with ${name} with ${status}`, async () => {
    await using srv = serve(Echo);
    const response = await rawStatus(srv.port, request);
    assert.equal(response.status, status);
    assert.match(response.body, body);
    assert.match(response.headers.get("content-type") ?? "", /text\/plain/);
    if (header) assert.equal(response.headers.get(header[0]), header[1]);
  });
}

Deno.test("checkUpgrade() refuses HTTP/1.0 and older with 400 where the version is known (RFC 6455 §4.2.1)", () => {
  const headers = new Headers({
    host: "127.0.0.1",
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": KEY,
    "sec-websocket-version": "13",
  });
  for (const version of ["1.0", "0.9", "1", ""]) {
    const rejection = checkUpgrade("GET", headers, version);
    assert.equal(rejection?.status, 400, `HTTP/${version}`);
    assert.match(rejection.reason, new RegExp(`HTTP/1.1 or later, not HTTP/${version}`));
  }
  for (const version of ["1.1", "2.0", undefined]) {
    assert.equal(checkUpgrade("GET", headers, version), null, `HTTP/${version}`);
  }
  // A request that is not an upgrade is told so first.
  assert.equal(checkUpgrade("GET", new Headers(), "1.0")?.status, 426);
});

Deno.test("websockHandler() accepts Connection: keep-alive, Upgrade in any case", async () => {
  await using srv = serve(Echo);
  using raw = await Raw.connect(srv.port);
  await raw.write(upgradeRequest({ Connection: "keep-alive, UPGRADE", Upgrade: "WebSocket" }));
  const response = await raw.response();
  assert.equal(response.status, 101);
  assert.equal(response.headers.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  await raw.frame(8, new Uint8Array([0x03, 0xe8]));
  assert.deepEqual(await raw.readClose(), { code: 1000, reason: "" });
});

Deno.test("websockHandler() answers a POST upgrade with 400 (Deno's HTTP layer, before the handler)", async () => {
  let called = false;
  await using srv = serve(Echo, {
    upgrade: () => {
      called = true;
      return undefined;
    },
  });
  const response = await rawStatus(
    srv.port,
    upgradeRequest({ "Content-Length": "0" }, "POST / HTTP/1.1"),
  );
  assert.equal(response.status, 400);
  assert.equal(called, false);
});

Deno.test("upgrade() answers a POST with 405 and Allow: GET", async () => {
  const request = new Request("http://127.0.0.1/", {
    method: "POST",
    headers: { host: "127.0.0.1", upgrade: "websocket", connection: "upgrade" },
  });
  const response = upgrade(request, Echo, undefined);
  assert.equal(response.status, 405);
  assert.equal(response.headers.get("allow"), "GET");
  assert.match(await response.text(), /requires GET, not POST/);
});

Deno.test("websockHandler() answers a request without Host with a 4xx", async () => {
  await using srv = serve(Echo);
  const response = await rawStatus(srv.port, upgradeRequest({ Host: null }));
  assert.ok(response.status >= 400 && response.status < 500, `status ${response.status}`);
});

Deno.test("websockHandler() uses the fallback for requests that are not upgrades", async () => {
  await using srv = serve(Echo, { fallback: () => new Response("hello page") });
  const response = await fetch(`http://127.0.0.1:${srv.port}/`);
  assert.equal(await response.text(), "hello page");
});

Deno.test("websockHandler() answers plain requests with 426 by default", async () => {
  await using srv = serve(Echo);
  const response = await fetch(`http://127.0.0.1:${srv.port}/`);
  assert.equal(response.status, 426);
  assert.equal(response.headers.get("upgrade"), "websocket");
  await response.body?.cancel();
});

Deno.test("origins: a list allows its origins and refuses others with 403", async () => {
  await using srv = serve(Echo, { origins: ["https://app.example"] });
  const ok1 = await rawStatus(srv.port, upgradeRequest({ Origin: "https://app.example" }));
  assert.equal(ok1.status, 101);
  const bad = await rawStatus(srv.port, upgradeRequest({ Origin: "https://other.example" }));
  assert.equal(bad.status, 403);
});

Deno.test("origins: the default allows the same origin and clients without Origin", async () => {
  await using srv = serve(Echo);
  const same = await rawStatus(
    srv.port,
    upgradeRequest({ Host: `127.0.0.1:${srv.port}`, Origin: `http://127.0.0.1:${srv.port}` }),
  );
  assert.equal(same.status, 101);
  const none = await rawStatus(srv.port, upgradeRequest());
  assert.equal(none.status, 101);
  const otherPort = await rawStatus(
    srv.port,
    upgradeRequest({ Host: `127.0.0.1:${srv.port}`, Origin: `http://127.0.0.1:1` }),
  );
  assert.equal(otherPort.status, 403);
});

Deno.test("origins: a function decides, and '*' allows all", async () => {
  await using fn = serve(Echo, { origins: (origin) => origin?.endsWith(".good") ?? false });
  assert.equal((await rawStatus(fn.port, upgradeRequest({ Origin: "http://a.good" }))).status, 101);
  assert.equal((await rawStatus(fn.port, upgradeRequest())).status, 403);
  await using any = serve(Echo, { origins: "*" });
  assert.equal((await rawStatus(any.port, upgradeRequest({ Origin: "http://x" }))).status, 101);
});

Deno.test("protocols: the server's preference wins among what the client offers", async () => {
  let seen = "";
  await using srv = serve({
    ...Echo,
    init: (_a, connection) => {
      seen = connection.protocol;
      return ok(null);
    },
  }, { protocols: ["v2", "v1"] });
  await using client = await connect(srv.url, ["v1", "v2"]);
  assert.equal(client.socket.protocol, "v2");
  client.send("x");
  await client.next();
  assert.equal(seen, "v2");
});

Deno.test("protocols: a client list without spaces is parsed (Deno's own parser is not)", async () => {
  await using srv = serve(Echo, { protocols: ["b"] });
  using raw = await Raw.connect(srv.port);
  await raw.write(upgradeRequest({ "Sec-WebSocket-Protocol": "a,b" }));
  const response = await raw.response();
  assert.equal(response.status, 101);
  assert.equal(response.headers.get("sec-websocket-protocol"), "b");
  await raw.frame(8, new Uint8Array([0x03, 0xe8]));
  await raw.readClose();
});

Deno.test("protocols: no match is refused with 400 naming what the server speaks", async () => {
  await using srv = serve(Echo, { protocols: ["graphql-ws"] });
  const response = await rawStatus(srv.port, upgradeRequest({ "Sec-WebSocket-Protocol": "mqtt" }));
  assert.equal(response.status, 400);
  assert.match(response.body, /graphql-ws/);
});

Deno.test("protocols: a client that offers none connects without a protocol", async () => {
  await using srv = serve(Echo, { protocols: ["v1"] });
  await using client = await connect(srv.url);
  assert.equal(client.socket.protocol, "");
});

Deno.test("the upgrade hook's value reaches init with url, headers and remote address", async () => {
  let got: { arg: string; connection: Connection<never> } | undefined;
  const Handler = {
    init(arg: string, connection: Connection<never>) {
      got = { arg, connection };
      return push(arg, null);
    },
    handleIn: (_d: string | Uint8Array, s: null) => ok(s),
    handleInfo: (_m: never, s: null) => ok(s),
  } satisfies WebSock<null, never, string>;
  await using srv = serve(Handler, {
    upgrade: (request, info) =>
      `${new URL(request.url).searchParams.get("user")}@${new URL(info.url).pathname}`,
    keepHeaders: ["sec-websocket-version"],
  });
  await using client = await connect(`${srv.url}chat?user=ann`);
  assert.equal(await client.next(), "ann@/chat");
  assert.equal(got!.connection.url, `http://127.0.0.1:${srv.port}/chat?user=ann`);
  assert.equal(got!.connection.headers.get("sec-websocket-version"), "13");
  assert.equal(got!.connection.remoteAddr?.hostname, "127.0.0.1");
  assert.ok(got!.connection.remoteAddr!.port > 0);
});

Deno.test("the upgrade hook refuses by returning a Response, sync or async", async () => {
  await using sync = serve(Echo, { upgrade: () => new Response("who?", { status: 401 }) });
  assert.equal((await rawStatus(sync.port, upgradeRequest())).status, 401);
  await using later = serve(Echo, {
    upgrade: async () => {
      await Promise.resolve();
      return new Response("no", { status: 403 });
    },
  });
  assert.equal((await rawStatus(later.port, upgradeRequest())).status, 403);
});

Deno.test("an async upgrade hook's value reaches init", async () => {
  const Handler = {
    init: (arg: number) => push(String(arg), null),
    handleIn: (_d: string | Uint8Array, s: null) => ok(s),
    handleInfo: (_m: never, s: null) => ok(s),
  } satisfies WebSock<null, never, number>;
  await using srv = serve(Handler, {
    upgrade: async () => {
      await new Promise((r) => setTimeout(r, 5));
      return 42;
    },
  });
  await using client = await connect(srv.url);
  assert.equal(await client.next(), "42");
});

Deno.test("an upgrade hook that throws gives a 500 and reaches onError", async () => {
  const errors: string[] = [];
  await using srv = serve(Echo, {
    upgrade: () => {
      throw new Error("db down");
    },
    onError: (_e, context) => errors.push(context.source),
  });
  const response = await rawStatus(srv.port, upgradeRequest());
  assert.equal(response.status, 500);
  assert.doesNotMatch(response.body, /db down/);
  assert.deepEqual(errors, ["upgrade"]);
});

Deno.test("upgrade() serves a connection inside your own routing, with a registry", async () => {
  const registry = new Registry();
  let mailbox: Connection<string> | undefined;
  const Room = {
    init: (room: string) => push(`joined ${room}`, room),
    handleIn: (_d: string | Uint8Array, room: string) => ok(room),
    handleInfo: (message: string, room: string) => push(`${room}: ${message}`, room),
  } satisfies WebSock<string, string, string>;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request, info) => {
    const { pathname } = new URL(request.url);
    if (!pathname.startsWith("/rooms/")) return new Response("Not found", { status: 404 });
    return upgrade(request, Room, pathname.slice(7), {
      registry,
      info,
      onConnection: (c) => mailbox = c,
      headers: { "set-cookie": "room=lobby", upgrade: "ignored" },
    });
  });
  {
    using raw = await Raw.connect(server.addr.port);
    await raw.write(upgradeRequest({}, "GET /rooms/raw HTTP/1.1"));
    const response = await raw.response();
    assert.equal(response.status, 101);
    assert.deepEqual(response.headers.getSetCookie(), ["room=lobby"]);
    assert.equal(response.headers.get("upgrade"), "websocket");
    await raw.frame(8, new Uint8Array([0x03, 0xe8]));
    await raw.readClose();
  }
  while (registry.size > 0) await new Promise((r) => setTimeout(r, 1));
  const client = await connect(`ws://127.0.0.1:${server.addr.port}/rooms/lobby`);
  assert.equal(await client.next(), "joined lobby");
  assert.equal(registry.size, 1);
  assert.equal(mailbox!.send("hi"), true);
  assert.equal(await client.next(), "lobby: hi");
  await registry.shutdown();
  assert.equal((await client.closed).code, 1001);
  assert.equal(registry.size, 0);
  assert.equal(mailbox!.send("late"), false);
  const missing = await fetch(`http://127.0.0.1:${server.addr.port}/other`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  await server.shutdown();
});

Deno.test("upgrade() with a registry: registry.shutdown({ restart: true }) then server.shutdown() at once: the clients see 1012 (regression)", async () => {
  const registry = new Registry();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request, info) => upgrade(request, Echo, undefined, { registry, info }),
  );
  const url = `ws://127.0.0.1:${server.addr.port}/`;
  const clients = await Promise.all(Array.from({ length: 8 }, () => connect(url)));
  assert.equal(registry.size, clients.length);
  // The way out the upgrade() example and docs/adapters.md show: drain, then stop the server,
  // without waiting in between. Deno's own shutdown sends 1001 to (or drops) every socket
  // whose close frame is not written yet.
  await registry.shutdown({ restart: true });
  await server.shutdown();
  const closes = await Promise.all(clients.map((c) => c.closed));
  for (const { code, reason } of closes) {
    assert.deepEqual({ code, reason }, { code: 1012, reason: "Server restarting" });
  }
});

Deno.test("upgrade() validates the request like websockHandler()", () => {
  const request = new Request("http://127.0.0.1/", {
    headers: {
      host: "127.0.0.1",
      upgrade: "websocket",
      connection: "upgrade",
      "sec-websocket-key": KEY,
    },
  });
  const response = upgrade(request, Echo, undefined);
  assert.equal(response.status, 426);
  assert.equal(response.headers.get("sec-websocket-version"), "13");
});

for (
  const [name, options, error] of [
    ["timeout: -1", { timeout: -1 }, RangeError],
    ["timeout: 1.5", { timeout: 1.5 }, RangeError],
    ["timeout: '10'", { timeout: "10" }, TypeError],
    ["maxMessageBytes: 0", { maxMessageBytes: 0 }, RangeError],
    ["maxQueuedEvents: 0", { maxQueuedEvents: 0 }, RangeError],
    ["maxBufferedBytes: NaN", { maxBufferedBytes: NaN }, RangeError],
    ["dataTimeout: -5", { dataTimeout: -5 }, RangeError],
    ["denoIdleTimeout: 30 (removed)", { denoIdleTimeout: 30 }, TypeError],
    ["origins: 'any'", { origins: "any" }, TypeError],
    ["protocols: 'chat'", { protocols: "chat" }, TypeError],
    ["protocols: ['a b']", { protocols: ["a b"] }, TypeError],
    ["upgrade: 1", { upgrade: 1 }, TypeError],
    ["fallback: 'x'", { fallback: "x" }, TypeError],
    ["onError: true", { onError: true }, TypeError],
    ["keepHeaders: 'all'", { keepHeaders: "all" }, TypeError],
  ] as const
) {
  Deno.test(`websockHandler() throws a ${error.name} for ${name}, naming the value`, () => {
    assert.throws(() => websockHandler(Echo, options as never), (e: Error) => {
      assert.ok(e instanceof error, `${e}`);
      assert.ok(e.message.includes(name.split(":")[0]), e.message);
      return true;
    });
  });
}

Deno.test("keepHeaders: true keeps all, a list keeps those, the default keeps none", async () => {
  const seen: Headers[] = [];
  const Spy = {
    ...Echo,
    init: (_a: undefined, connection: Connection<never>) => {
      seen.push(connection.headers);
      return ok(null);
    },
  } satisfies WebSock<null>;
  for (const keepHeaders of [true, undefined, false, ["X-User", "x-missing"]] as const) {
    await using srv = serve(Spy, keepHeaders === undefined ? {} : { keepHeaders });
    using raw = await Raw.connect(srv.port);
    await raw.write(upgradeRequest({ "X-User": "ann", "X-Other": "1" }));
    assert.equal((await raw.response()).status, 101);
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 1));
    const headers = seen.pop()!;
    if (keepHeaders === true) {
      assert.equal(headers.get("x-other"), "1");
      assert.equal(headers.get("sec-websocket-version"), "13");
    } else if (!keepHeaders) assert.deepEqual([...headers], []);
    else assert.deepEqual([...headers], [["x-user", "ann"]]);
    await raw.frame(8, new Uint8Array([0x03, 0xe8]));
    await raw.readClose();
  }
});

Deno.test("the upgrade hook reads any request header while the connection keeps none", async () => {
  let kept: Headers | undefined;
  const Handler = {
    init(arg: string, connection: Connection<never>) {
      kept = connection.headers;
      return push(arg, null);
    },
    handleIn: (_d: string | Uint8Array, s: null) => ok(s),
    handleInfo: (_m: never, s: null) => ok(s),
  } satisfies WebSock<null, never, string>;
  await using srv = serve(Handler, { upgrade: (request) => request.headers.get("x-user") ?? "" });
  using raw = await Raw.connect(srv.port);
  await raw.write(upgradeRequest({ "X-User": "ann" }));
  assert.equal((await raw.response()).status, 101);
  assert.equal(new TextDecoder().decode((await raw.readFrame())!.payload), "ann");
  assert.deepEqual([...kept!], []);
  await raw.frame(8, new Uint8Array([0x03, 0xe8]));
  await raw.readClose();
});

Deno.test("the upgrade hook adds headers to the 101 (a cookie), never the handshake's own", async () => {
  await using srv = serve(Echo, {
    upgrade(_request, _info, response) {
      response.headers.append("set-cookie", "session=abc; HttpOnly");
      response.headers.append("set-cookie", "theme=dark");
      response.headers.set("sec-websocket-accept", "forged");
      response.headers.set("x-served-by", "websock");
    },
  });
  using raw = await Raw.connect(srv.port);
  await raw.write(upgradeRequest());
  const response = await raw.response();
  assert.equal(response.status, 101);
  assert.deepEqual(response.headers.getSetCookie(), ["session=abc; HttpOnly", "theme=dark"]);
  assert.equal(response.headers.get("x-served-by"), "websock");
  assert.equal(response.headers.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  await raw.frame(8, new Uint8Array([0x03, 0xe8]));
  await raw.readClose();
});

Deno.test("origins: a function that throws refuses with 403 and reaches onError", async () => {
  const sources: string[] = [];
  await using srv = serve(Echo, {
    origins: () => {
      throw new Error("bad origin parser");
    },
    onError: (_e, context) => sources.push(context.source),
  });
  const response = await rawStatus(srv.port, upgradeRequest({ Origin: "http://x" }));
  assert.equal(response.status, 403);
  assert.doesNotMatch(response.body, /parser/);
  assert.deepEqual(sources, ["upgrade"]);
});

Deno.test("an onConnection that throws is reported and the connection still works", async () => {
  const sources: string[] = [];
  await using srv = serve(Echo, {
    onConnection() {
      throw new Error("registry full");
    },
    onError: (_e, context) => sources.push(context.source),
  });
  await using client = await connect(srv.url);
  client.send("still here");
  assert.equal(await client.next(), "still here");
  assert.deepEqual(sources, ["upgrade"]);
});
