import assert from "node:assert/strict";
import { startChat } from "./_chat.ts";
import { Browser, CHROMIUM } from "./_chromium.ts";

const LOG = `document.getElementById("log").innerText`;

/** Type a name, press Join, wait for the welcome. */
async function joinAs(page: Awaited<ReturnType<Browser["open"]>>, name: string): Promise<void> {
  await page.waitFor(`document.readyState === "complete" && !!document.getElementById("name")`);
  await page.evaluate(`(() => {
    document.getElementById("name").value = ${JSON.stringify(name)};
    document.querySelector("#join button").click();
  })()`);
  await page.waitFor(`${LOG}.includes("welcome, ${name}")`);
}

async function say(page: Awaited<ReturnType<Browser["open"]>>, text: string): Promise<void> {
  await page.evaluate(`(() => {
    document.getElementById("text").value = ${JSON.stringify(text)};
    document.querySelector("#say button").click();
  })()`);
}

Deno.test({
  name: "chat example in headless Chromium: two pages join, chat, and see a leave",
  ignore: CHROMIUM === undefined,
  async fn() {
    await using server = await startChat();
    await using browser = await Browser.launch(CHROMIUM!);
    const alice = await browser.open(`${server.origin}/`);
    await joinAs(alice, "alice");
    const bob = await browser.open(`${server.origin}/`);
    await joinAs(bob, "bob");
    await alice.waitFor(`${LOG}.includes("bob joined")`);

    await say(alice, "hello bob");
    await say(bob, "hi alice");
    for (const page of [alice, bob]) {
      await page.waitFor(`${LOG}.includes("alice: hello bob") && ${LOG}.includes("bob: hi alice")`);
    }
    // Bob's join was published before Alice spoke, so it comes first on her page.
    const log = await alice.evaluate<string>(LOG);
    assert.ok(log.indexOf("bob joined") < log.indexOf("alice: hello bob"), log);

    await bob.close();
    await alice.waitFor(`${LOG}.includes("bob left")`);
  },
});
