// deno bundle --platform node -o dist/portable.mjs examples/portable/node.ts && node dist/portable.mjs
// (or, under Deno's Node compatibility: deno run --allow-net --allow-env examples/portable/node.ts)
import { serve } from "@websock/websock/node";
import { Numbered } from "./handler.ts";

const { listening } = serve(Numbered, { hostname: "127.0.0.1", port: 8080 });
console.log("listening on", await listening);
