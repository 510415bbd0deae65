// The conformance suite against the Deno adapter.

import { conformance } from "../testing/conformance.ts";
import { denoAdapter } from "./fixtures/deno_conformance_server.ts";

conformance(denoAdapter);
