// The chat demo (examples/chat/) in headless Chromium, driven by npm:puppeteer-core: joining
// and leaving, two pages talking, a silent page kept alive by pings, a refused name, phone
// width, and a server restart the pages come back from. Screenshots of the conversation go
// to the test's temporary directory, which is kept (and named) when the test fails.

import assert from "node:assert/strict";
import { type ChatServer, startChat } from "./_chat.ts";
import { CHROMIUM, launchChromium, type Page, type TempDir, tempDir, waitFor } from "./_browser.ts";
import { HAS_REDIS, startRedis } from "./_redis.ts";

const TIMEOUT = 1000; // the demo's keep-alive timeout (CHAT_TIMEOUT_MS): a ping after ~0.5 s
const env = { CHAT_TIMEOUT_MS: String(TIMEOUT) };

// Before the page's own script: count (and keep) the WebSockets it opens, and record every
// status text.
const PROBE = `(() => {
  window.__sockets = 0;
  window.__ws = [];
  window.__statuses = [];
  const Native = WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); window.__sockets++; window.__ws.push(this); }
  };
  document.addEventListener("DOMContentLoaded", () => {
    const status = document.getElementById("status");
    new MutationObserver(() => window.__statuses.push(status.textContent))
      .observe(status, { childList: true, characterData: true, subtree: true });
  });
})()`;

const LOG = `document.getElementById("log").innerText`;
const STATUS = `document.getElementById("status").textContent`;

async function open(newPage: () => Promise<Page>, origin: string): Promise<Page> {
  const page = await newPage();
  await page.evaluateOnNewDocument(PROBE);
  await page.goto(`${origin}/`);
  return page;
}

async function join(page: Page, name: string): Promise<void> {
  await page.type("#name", name);
  await page.click("#join button");
}

async function say(page: Page, text: string): Promise<void> {
  await page.type("#text", text);
  await page.click("#send");
}

function logHas(page: Page, text: string): Promise<void> {
  return waitFor(page, `${LOG}.includes(${JSON.stringify(text)})`);
}

const evaluate = <T>(page: Page, expression: string) => page.evaluate(expression) as Promise<T>;

/**
 * Run a test's body; keep its temporary directory (screenshots, profile) and say where when it
 * fails, or when WEBSOCK_KEEP_SCREENSHOTS is set.
 */
async function keepingScreenshots(dir: TempDir, body: () => Promise<void>): Promise<void> {
  try {
    await body();
    if (Deno.env.get("WEBSOCK_KEEP_SCREENSHOTS")) {
      dir.keep();
      console.log(`screenshots kept in ${dir.path}`);
    }
  } catch (error) {
    dir.keep();
    throw new Error(
      `${(error as Error).message}\n(screenshots and profile kept in ${dir.path})`,
      { cause: error },
    );
  }
}

/** Whether an element is displayed (the hidden attribute really hides it). */
const shown = (page: Page, id: string) =>
  evaluate<boolean>(page, `getComputedStyle(document.getElementById("${id}")).display !== "none"`);

Deno.test({
  name: "chat demo in headless Chromium: join, talk, stay silent, get refused, survive a restart",
  ignore: CHROMIUM === undefined,
  async fn(t) {
    await using dir = await tempDir();
    let server: ChatServer = await startChat({ env });
    try {
      await keepingScreenshots(dir, async () => {
        await using chromium = await launchChromium(CHROMIUM!, dir);
        const newPage = () => chromium.newPage();
        let alice: Page;
        let bob: Page;

        await t.step(
          "join shows the chat and hides the form; pressing Join again opens no second socket",
          async () => {
            alice = await open(newPage, server.origin);
            assert.ok(await shown(alice, "join"));
            assert.ok(!await shown(alice, "chat"), "the message box shows before joining");
            await alice.type("#name", "alice");
            // Submit three times in a row, as an impatient user would.
            await alice.evaluate(`(() => {
          const button = document.querySelector("#join button");
          button.click();
          button.click();
          document.getElementById("join").requestSubmit();
        })()`);
            await logHas(alice, "welcome, alice");
            await waitFor(alice, `${STATUS} === "connected as alice"`);
            assert.ok(!await shown(alice, "join"), "the join form stays after joining");
            assert.ok(await shown(alice, "say"));
            assert.equal(await evaluate(alice, "window.__sockets"), 1);
            bob = await open(newPage, server.origin);
            await join(bob, "bob");
            await logHas(alice, "bob joined");
            await logHas(bob, "welcome, bob");
            const log = await evaluate<string>(alice, LOG);
            assert.equal(log.split("bob joined").length, 2, `one join line: ${log}`);
          },
        );

        await t.step(
          "two pages exchange messages (screenshots in the test's temp dir)",
          async () => {
            await say(alice, "hello bob");
            await say(bob, "hi alice");
            for (const page of [alice, bob]) {
              await logHas(page, "alice: hello bob");
              await logHas(page, "bob: hi alice");
            }
            const log = await evaluate<string>(alice, LOG);
            assert.ok(log.indexOf("bob joined") < log.indexOf("alice: hello bob"), log);
            for (const [name, page] of [["alice", alice], ["bob", bob]] as const) {
              const png = await page.screenshot({ type: "png" });
              assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
              await dir.write(`conversation-${name}.png`, png);
            }
          },
        );

        await t.step("a page that only reads stays connected past 3 × timeout", async () => {
          const started = Date.now();
          await new Promise((resolve) => setTimeout(resolve, 4 * TIMEOUT));
          await say(bob, "still there?");
          await logHas(alice, "bob: still there?");
          const stayed = Date.now() - started;
          assert.ok(stayed > 3 * TIMEOUT);
          assert.equal(await evaluate(alice, "window.__sockets"), 1, "alice's page reconnected");
          assert.ok(!(await evaluate<string>(alice, LOG)).includes("disconnected"));
          assert.equal(await evaluate(alice, STATUS), "connected as alice");
          console.log(`silent page stayed connected ${stayed} ms (timeout ${TIMEOUT} ms)`);
        });

        await t.step("Leave closes the socket; the others see the leave", async () => {
          await bob.click("#leave");
          await logHas(alice, "bob left");
          assert.ok(await shown(bob, "join"));
          assert.ok(!await shown(bob, "chat"));
          assert.equal(await evaluate(bob, STATUS), "You left the room.");
          await bob.close();
        });

        await t.step(
          "a refused name shows the server's reason, and no reconnect follows",
          async () => {
            const page = await open(newPage, server.origin);
            await join(page, "no spaces please");
            await waitFor(page, `${STATUS}.startsWith("Refused: ")`);
            assert.equal(
              await evaluate(page, STATUS),
              "Refused: Names are 1 to 24 letters, digits, _ . or - (no spaces)",
            );
            assert.ok(await shown(page, "join"), "the form is back to try another name");
            await new Promise((resolve) => setTimeout(resolve, 1000));
            assert.equal(await evaluate(page, "window.__sockets"), 1);
            await page.close();
          },
        );

        await t.step(
          "usable at phone width (360 px): nothing overflows, the buttons fit",
          async () => {
            const phone = await chromium.newPage({ width: 360, height: 640 });
            await phone.evaluateOnNewDocument(PROBE);
            await phone.goto(`${server.origin}/`);
            await join(phone, "phone");
            await logHas(phone, "welcome, phone");
            const fits = await evaluate<boolean>(
              phone,
              `document.documentElement.scrollWidth <= 360 &&
           ["text", "send", "leave", "log"].every((id) =>
             document.getElementById(id).getBoundingClientRect().right <= 360)`,
            );
            assert.ok(fits, "the page is wider than the phone");
            await phone.close();
          },
        );

        await t.step(
          "the server restarts: the page says it is reconnecting, rejoins, and messages flow",
          async () => {
            const carol = await open(newPage, server.origin);
            await join(carol, "carol");
            await logHas(carol, "welcome, carol");
            await evaluate(alice, "window.__statuses.length = 0");
            const port = server.port;
            await server[Symbol.asyncDispose](); // SIGKILL: every page sees its socket drop
            // Down long enough for two failed attempts, so the backoff shows.
            await waitFor(alice, `window.__statuses.includes("reconnecting… (attempt 2)")`);
            server = await startChat({ env, port });
            for (const [page, name] of [[alice, "alice"], [carol, "carol"]] as const) {
              await waitFor(page, `${STATUS} === "connected as ${name}"`, 20_000);
              await logHas(page, `reconnected as ${name}`);
            }
            await say(carol, "back again");
            await logHas(alice, "carol: back again");
            const statuses = await evaluate<string[]>(alice, "window.__statuses");
            console.log(`alice's status through the restart: ${JSON.stringify(statuses)}`);
            const waits = statuses.filter((s) => s.startsWith("disconnected — reconnecting in"));
            assert.ok(waits.length >= 2, "backoff");
            assert.equal(statuses.at(-1), "connected as alice");
            const log = await evaluate<string>(alice, LOG);
            assert.ok(log.includes("disconnected (1006)"), log);
          },
        );
      });
    } finally {
      await server[Symbol.asyncDispose]();
    }
  },
});

/** The chat lines of a page's log (not the join, leave or status lines). */
async function said(page: Page): Promise<string[]> {
  const log = await evaluate<string>(page, LOG);
  return log.split("\n").filter((l) => /^\w+: /.test(l));
}

Deno.test({
  name: "chat demo with Redis Streams: a page that reconnects shows what it missed, once, in order",
  ignore: CHROMIUM === undefined || !HAS_REDIS,
  async fn(t) {
    await using dir = await tempDir();
    await using redis = await startRedis();
    const env = { REDIS_URL: redis.url, CHAT_TIMEOUT_MS: String(TIMEOUT) };
    let a: ChatServer = await startChat({ env });
    await using b = await startChat({ env });
    try {
      await keepingScreenshots(dir, async () => {
        await using chromium = await launchChromium(CHROMIUM!, dir);
        const newPage = () => chromium.newPage();
        const alice = await open(newPage, a.origin);
        const bob = await open(newPage, b.origin);
        await join(alice, "alice");
        await join(bob, "bob");
        await logHas(alice, "bob joined");
        await say(bob, "one");
        await logHas(alice, "bob: one");
        const bobs = (...texts: string[]) => texts.map((text) => `bob: ${text}`);
        const bobSays = (...texts: string[]) =>
          bob.evaluate(`for (const t of ${JSON.stringify(texts)}) window.__ws.at(-1).send(t)`);

        await t.step(
          "alice's server is killed; bob talks; it restarts: alice gets it all",
          async () => {
            const port = a.port;
            await a[Symbol.asyncDispose](); // SIGKILL: alice's page starts reconnecting
            await waitFor(alice, `${STATUS}.startsWith("disconnected")`);
            await bobSays("two", "three", "four");
            await logHas(bob, "bob: four"); // stored in the room's stream
            a = await startChat({ env, port });
            await waitFor(alice, `${STATUS} === "connected as alice"`, 20_000);
            await logHas(alice, "bob: four");
            await say(bob, "five");
            await logHas(alice, "bob: five");
            assert.deepEqual(await said(alice), bobs("one", "two", "three", "four", "five"));
          },
        );

        await t.step(
          "alice's connection drops while bob talks: she shows each line once",
          async () => {
            const sockets = await evaluate<number>(alice, "window.__sockets");
            await alice.evaluate("window.__ws.at(-1).close()"); // the page sees a drop, reconnects
            await bobSays("six", "seven", "eight");
            await waitFor(alice, `window.__sockets === ${sockets + 1}`);
            await waitFor(alice, `${STATUS} === "connected as alice"`, 20_000);
            await bobSays("nine");
            await logHas(alice, "bob: nine");
            await say(alice, "back");
            await logHas(bob, "alice: back");
            await logHas(alice, "alice: back"); // her own line comes back through the stream too
            assert.deepEqual(await said(alice), [
              ...bobs("one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
              "alice: back",
            ]);
            const log = await evaluate<string>(alice, LOG);
            assert.ok(!log.includes("no longer available"), `no gap notice: ${log}`);
            const png = await alice.screenshot({ type: "png" });
            await dir.write("resumed-alice.png", png);
          },
        );
      });
    } finally {
      await a[Symbol.asyncDispose]();
    }
  },
});
