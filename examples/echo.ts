// Echo server: sends every text and binary message back, on any path.
// Run: deno run --allow-net --allow-env examples/echo.ts   (PORT, HOSTNAME from the environment)
import { ok, push, type WebSock } from "@websock/websock";
import { websockHandler } from "@websock/websock/deno";

export const Echo = {
  init: () => ok(null),
  handleIn: (data, state) => push(data, state),
} satisfies WebSock<null>;

if (import.meta.main) {
  const port = Number(Deno.env.get("PORT") ?? 8000);
  const hostname = Deno.env.get("HOSTNAME") ?? "127.0.0.1";
  const handler = websockHandler(Echo, { origins: "*" });
  const server = Deno.serve({ port, hostname }, handler);
  Deno.addSignalListener("SIGINT", async () => {
    await handler.shutdown();
    await server.shutdown();
  });
}
