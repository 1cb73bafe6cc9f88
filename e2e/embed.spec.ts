// The <x86-vm> element embedded in a second page (web/embed.html): the default guest boots in its
// own terminal, which takes keys and fits the element as it resizes, while an element whose
// kernel is missing on the same page says why; a second element boots a VM of its own, and the
// two consoles stay apart.
import { expect, test } from "@playwright/test";
import type { X86VmElement } from "../web/vm/element";

const BOOT_TIMEOUT_MS = 300_000;

test("<x86-vm> elements boot guests in terminals of their own beside one that cannot start", async ({ page }, testInfo) => {
  test.setTimeout(2 * BOOT_TIMEOUT_MS + 120_000);
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(error.message));

  await page.goto("/embed.html");
  const missing = page.locator("x86-vm#missing");
  await expect(missing).toHaveAttribute("data-state", "error", { timeout: 30_000 });
  await expect(missing.locator(".x86-vm-status")).toContainText("The VM could not start: the kernel http://localhost:4317/guest/no-such-kernel is missing (404 Not Found)");
  expect(await page.evaluate(() => document.querySelector<X86VmElement>("x86-vm#missing")!.ready.then(() => "ready", (error: Error) => error.message)))
    .toMatch(/^the kernel .* is missing/);

  const element = page.locator("x86-vm#default");
  await expect(element).toHaveAttribute("data-state", "running", { timeout: 60_000 });
  await page.evaluate((timeout) => document.querySelector<X86VmElement>("x86-vm#default")!.ready.then((vm) => vm.console.waitFor("/root # ", { timeout })), BOOT_TIMEOUT_MS);

  // Keys typed into the element's terminal reach its guest.
  await element.locator(".xterm").click();
  await page.keyboard.type("echo embedded-$((6 * 7))");
  await page.keyboard.press("Enter");
  const answer = await page.evaluate(() => document.querySelector<X86VmElement>("x86-vm#default")!.vm!.console.waitFor(/^embedded-(\d+)$/m, { timeout: 30_000 }));
  expect(answer.captures).toEqual(["42"]);
  await expect(element.locator(".xterm-rows")).toContainText("embedded-42");

  // The terminal follows the element's size.
  const size = () => page.evaluate(() => {
    const screen = document.querySelector<HTMLElement>("x86-vm#default .xterm-screen")!;
    return { width: screen.offsetWidth, height: screen.offsetHeight };
  });
  const before = await size();
  await element.evaluate((node: HTMLElement) => {
    node.style.width = "30rem";
    node.style.height = "12rem";
  });
  await expect.poll(size).not.toEqual(before);
  const after = await size();
  const box = (await element.boundingBox())!;
  expect(after.width).toBeLessThan(box.width);
  expect(after.width).toBeGreaterThan(box.width - 60);
  expect(after.height).toBeLessThan(box.height);

  // A second element on the same page boots a VM of its own; neither sees the other's console.
  await page.evaluate(() => {
    const first = document.querySelector<X86VmElement>("x86-vm#default")!;
    const second = document.createElement("x86-vm");
    second.id = "second";
    for (const name of ["kernel", "initrd", "vmlinux", "cmdline"]) second.setAttribute(name, first.getAttribute(name) ?? "");
    second.setAttribute("memory", "64");
    first.after(second);
  });
  const consoles = await page.evaluate(async (timeout) => {
    const [first, second] = await Promise.all(["default", "second"].map((id) => document.querySelector<X86VmElement>(`x86-vm#${id}`)!.ready));
    await second.console.waitFor("/root # ", { timeout });
    second.console.write("echo second-$((1 + 1)); grep MemTotal /proc/meminfo\n");
    first.console.write("echo first-$((0 + 1))\n");
    const [a, b] = await Promise.all([first.console.waitFor(/^first-1$/m), second.console.waitFor(/^MemTotal:\s+(\d+) kB$/m)]);
    await second.console.waitFor("/root # ");
    return { first: first.console.text(), second: second.console.text(), memTotalKb: Number(b.captures[0]), firstMatched: a.text };
  }, BOOT_TIMEOUT_MS);
  expect(consoles.firstMatched).toBe("first-1");
  expect(consoles.second).toMatch(/^second-2$/m);
  expect(consoles.first).not.toContain("second-");
  expect(consoles.second).not.toContain("first-");
  expect(consoles.memTotalKb).toBeLessThan(64 * 1024);
  expect(consoles.memTotalKb).toBeGreaterThan(32 * 1024);
  await expect(page.locator("x86-vm#second")).toHaveAttribute("data-state", "running");

  await page.screenshot({ path: testInfo.outputPath("x86-vm-element.png") });
  // stop() ends the VM at once; the element shows it.
  const fate = await page.evaluate(async () => {
    const vm = document.querySelector<X86VmElement>("x86-vm#default")!.vm!;
    await vm.stop();
    return { state: vm.state(), fate: await vm.ended };
  });
  expect(fate).toEqual({ state: "ended", fate: { reason: "stopped" } });
  await expect(element).toHaveAttribute("data-fate", "stopped");
  await expect(element).toHaveAttribute("data-state", "ended");
  expect(problems).toEqual([]);
});
