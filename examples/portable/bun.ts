// bun examples/portable/bun.ts
import { websockServe } from "@websock/websock/bun";
import { Numbered } from "./handler.ts";

declare const Bun: { serve(options: Record<string, unknown>): { port: number } };

const server = Bun.serve({ hostname: "127.0.0.1", port: 8080, ...websockServe(Numbered) });
console.log("listening on", server.port);
