// deno run --allow-net examples/portable/deno.ts
import { websockHandler } from "@websock/websock/deno";
import { Numbered } from "./handler.ts";

Deno.serve({ hostname: "127.0.0.1", port: 8080 }, websockHandler(Numbered));
