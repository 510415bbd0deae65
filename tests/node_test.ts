// The Node adapter: the shared suite against real Node 20 (the fixture server bundled with
// `deno bundle`) and in-process under Deno's Node compatibility.

import { websockUpgrade } from "../adapters/node.ts";
import { fixtureServer } from "./fixtures/_node_fixture.ts";
import { handlers, reportError, setReporter, upgradeHooks } from "./fixtures/handlers.ts";
import {
  adapterSuite,
  bundleNodeServer,
  findNode,
  type FixtureServer,
  Reports,
  startChild,
  within,
} from "./_adapter_suite.ts";

const node = Deno.env.get("WEBSOCK_NODE") ?? "node";

const hasNode = (await findNode()) !== undefined;
if (!hasNode) console.warn(`Skipping the real-Node tests: no ${node} binary (set WEBSOCK_NODE)`);

Deno.test({
  name: "websockUpgrade() serves the suite under real Node",
  ignore: !hasNode,
  async fn(t) {
    const bundle = await bundleNodeServer();
    await adapterSuite(t, (handler, options, upgrade) =>
      startChild(node, [
        bundle,
        "--handler",
        handler,
        "--options",
        JSON.stringify(options),
        ...(upgrade ? ["--upgrade", upgrade] : []),
      ]));
  },
});

// The same fixture, in this process: Deno's node:http and npm:ws.
function startInProcess(
  handler: string,
  options: Record<string, unknown>,
  upgrade?: string,
): Promise<FixtureServer> {
  const reports = new Reports();
  setReporter((report) => reports.add(report));
  const upgradeHandler = websockUpgrade(handlers[handler], {
    ...options,
    upgrade: upgrade ? upgradeHooks[upgrade] : undefined,
    onError: reportError,
  });
  const server = fixtureServer(upgradeHandler);
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as { port: number };
      resolve({
        port: address.port,
        report: (id) => reports.get(id),
        errors: (id) => reports.errors(id),
        async close() {
          await within(upgradeHandler.shutdown(), 5000, "shutdown");
          server.closeAllConnections();
          await new Promise((resolve) => server.close(resolve));
        },
      });
    });
  });
}

Deno.test("websockUpgrade() serves the suite under Deno's Node compatibility", async (t) => {
  try {
    await adapterSuite(t, startInProcess);
  } finally {
    setReporter((report) => console.log(JSON.stringify(report)));
  }
});
