// The page's VM driven through its automation API (window.vm) from the README's fixture
// (e2e/vm-fixture.ts, one boot for the file): waits on the console, commands written to it, pause
// and resume, reset, power-off; and the page's readable errors for a missing or malformed kernel,
// an unsupported vCPU count, a guest that is not cached and a page without cross-origin isolation.
import { expect, sh, test } from "./vm-fixture";

test("the guest runs Linux 6.1", async ({ vmPage }) => {
  expect(await sh(vmPage, "uname -r")).toMatch(/^6\.1\./);
});

test("waitFor finds a command's output, and the next prompt after it", async ({ vmPage: page }) => {
  expect(await page.evaluate(() => window.vm!.console.text())).toContain("webvm-guest: init ready");
  expect(await page.evaluate(() => window.vm!.state())).toBe("running");
  const release = await page.evaluate(async () => {
    const vm = window.vm!;
    vm.console.write("uname -r\n");
    const match = await vm.console.waitFor(/^(6\.1\.0-\d+-686)$/m);
    await vm.console.waitFor("/root # ");
    return match.captures[0];
  });
  expect(release).toMatch(/^6\.1\.0-\d+-686$/);
  // The expect-style cursor: a command's output is what comes before the next prompt.
  const output = await page.evaluate(async () => {
    window.vm!.console.write("echo $((6 * 7))\n");
    return (await window.vm!.console.waitFor("/root # ")).before;
  });
  expect(output).toBe("echo $((6 * 7))\n42\n");
  expect(await page.evaluate(() => window.vm!.console.text())).toContain("42\n/root # ");
});

test("pause stops the CPU and resume lets it go on", async ({ vmPage: page }) => {
  const paused = await page.evaluate(async () => {
    const vm = window.vm!;
    await vm.pause();
    const before = (await vm.stats())!.instructions;
    vm.console.write("echo paused-$((40 + 2))\n");
    const timedOut = await vm.console.waitFor("paused-42", { timeout: 1000 }).then(() => "answered", (error: Error) => error.name);
    const after = (await vm.stats())!.instructions;
    return { state: vm.state(), timedOut, ran: after - before, status: document.getElementById("status")!.dataset.state };
  });
  expect(paused).toEqual({ state: "paused", timedOut: "ConsoleTimeoutError", ran: 0, status: "paused" });
  await expect(page.locator("#resume")).toBeEnabled();

  const resumed = await page.evaluate(async () => {
    const vm = window.vm!;
    await vm.resume();
    const match = await vm.console.waitFor(/^paused-42$/m, { timeout: 20_000 });
    await vm.console.waitFor("/root # ");
    return { state: vm.state(), text: match.text };
  });
  expect(resumed).toEqual({ state: "running", text: "paused-42" });
});

test("the control bar's buttons pause and resume the VM", async ({ vmPage: page }) => {
  const status = page.locator("#status");
  await page.locator("#pause").click();
  await expect(status).toHaveAttribute("data-state", "paused");
  expect(await page.evaluate(() => window.vm!.state())).toBe("paused");
  await expect(page.locator("#pause")).toBeDisabled();
  await page.locator("#resume").click();
  await expect(status).toHaveAttribute("data-state", "running");
  expect(await page.evaluate(() => window.vm!.state())).toBe("running");
  await expect(page.locator("#start")).toBeDisabled();
});

test("reset boots the guest again on a new machine, the console going on", async ({ vmPage: page }) => {
  test.setTimeout(360_000);
  const states = await page.evaluate(async () => {
    const vm = window.vm!;
    const seen: string[] = [];
    vm.on("state", (state) => seen.push(state));
    await vm.reset();
    await vm.console.waitFor("/root # ", { timeout: 300_000 });
    return { seen, state: vm.state(), boots: vm.console.text().split("webvm-guest: init ready").length - 1 };
  });
  expect(states).toEqual({ seen: ["starting", "running"], state: "running", boots: 2 });
});

test("the guest's own reboot boots it again", async ({ vmPage: page }) => {
  test.setTimeout(360_000);
  const after = await page.evaluate(async () => {
    const vm = window.vm!;
    const seen: string[] = [];
    vm.on("state", (state) => seen.push(state));
    vm.console.write("reboot\n");
    await vm.console.waitFor("webvm-guest: init ready", { timeout: 300_000 });
    await vm.console.waitFor("/root # ", { timeout: 60_000 });
    return { seen, state: vm.state() };
  });
  expect(after).toEqual({ seen: ["starting", "running"], state: "running" });
});

test("power-off ends the VM with its fate, and later waits reject", async ({ vmPage: page }) => {
  test.setTimeout(120_000);
  const fate = await page.evaluate(async () => {
    const vm = window.vm!;
    await vm.powerOff();
    return vm.ended;
  });
  expect(fate).toEqual({ reason: "power-off" });
  await expect(page.locator("#status")).toHaveAttribute("data-fate", "power-off");
  await expect(page.locator("#status")).toHaveAttribute("data-state", "ended");
  await expect(page.locator("#start")).toBeEnabled();
  const late = await page.evaluate(() => window.vm!.console.waitFor("/root # ").then(() => "answered", (error: Error) => `${error.name}: ${error.message}`));
  expect(late).toBe('VMEndedError: console.waitFor("/root # "): the VM ended (power-off) first');
});

test("a missing kernel shows why instead of a blank page", async ({ page }) => {
  await page.goto("/?kernel=/guest/no-such-kernel");
  const status = page.locator("#status");
  await expect(status).toHaveAttribute("data-state", "error", { timeout: 30_000 });
  await expect(status).toContainText("the kernel http://localhost:4317/guest/no-such-kernel is missing (404 Not Found)");
  await expect(status).toContainText("npm run guest:fetch");
  await expect(page.locator("#start")).toBeEnabled();
});

test("more than one vCPU is refused with a clear message", async ({ page }) => {
  await page.goto("/?cpus=2");
  await expect(page.locator("#status")).toHaveAttribute("data-state", "error", { timeout: 30_000 });
  await expect(page.locator("#status")).toContainText("cpus: only 1 vCPU is supported for now, not 2");
});

test("a file that is not a kernel is named as such", async ({ page, request }) => {
  const manifest = await (await request.get("/guest/default.json")).json() as { initrd: string };
  await page.goto(`/?kernel=/guest/${manifest.initrd}`);
  await expect(page.locator("#status")).toHaveAttribute("data-state", "error", { timeout: 30_000 });
  await expect(page.locator("#status")).toContainText("The machine failed to start: the kernel image");
});

test("without a cached guest the page says how to fetch one", async ({ page }) => {
  await page.route("**/guest/default.json", (route) => route.fulfill({ status: 404, contentType: "text/plain", body: "not in the guest cache" }));
  await page.goto("/");
  await expect(page.locator("#status")).toHaveAttribute("data-state", "error", { timeout: 30_000 });
  await expect(page.locator("#status")).toContainText('no guest image is cached (/guest/default.json: 404 Not Found): run "npm run guest:fetch" and reload');
});

test("a page served without cross-origin isolation explains what it needs", async ({ page }) => {
  // The same page, its isolation headers dropped.
  await page.route("**/", async (route) => {
    const response = await route.fetch();
    const headers = Object.fromEntries(Object.entries(response.headers()).filter(([name]) => !name.startsWith("cross-origin-")));
    await route.fulfill({ response, headers });
  });
  await page.goto("/");
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
  await expect(page.locator("#status")).toHaveAttribute("data-state", "error");
  await expect(page.locator("#status")).toContainText("This page is not cross-origin isolated");
  await expect(page.locator("#status")).toContainText("Cross-Origin-Embedder-Policy: require-corp");
  await expect(page.locator("#start")).toBeDisabled();
});
