// deno run --allow-net examples/portable/deno.ts
import { websockHandler } from "../../adapters/deno.ts";
import { Numbered } from "./handler.ts";

Deno.serve({ hostname: "127.0.0.1", port: 8080 }, websockHandler(Numbered));
