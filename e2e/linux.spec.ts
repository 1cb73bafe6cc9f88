// Debian's kernel booted by the page, driven as a user would: keys typed into the terminal,
// answers read from it and checked against what a PC running Linux reports.
import { expect, test, type Page } from "@playwright/test";

/** Boot to the shell takes minutes on the interpreter. */
const BOOT_TIMEOUT_MS = 600_000;

const consoleText = (page: Page): Promise<string> => page.evaluate(() => window.vmConsoleText());

let commands = 0;
/** Types `command` into the terminal and returns the lines it printed. */
async function run(page: Page, command: string): Promise<string> {
  // Type at the prompt only: keys sent while the shell's line editor asks the terminal for its
  // cursor position (ESC [ 6 n, answered by xterm.js) would be taken as part of the answer.
  await expect.poll(() => consoleText(page), { timeout: 60_000 }).toMatch(/\/root #$/);
  const marker = `done-${++commands}`;
  // The marker is split in the typed line, so the terminal's echo of it does not match.
  const typedMarker = `"${marker.slice(0, 3)}""${marker.slice(3)}"`;
  await page.keyboard.type(`${command}; echo ${typedMarker}`);
  await page.keyboard.press("Enter");
  const pattern = new RegExp(`^${marker}$`, "m");
  await expect.poll(() => consoleText(page), { timeout: 60_000 }).toMatch(pattern);
  const text = await consoleText(page);
  const end = text.search(pattern);
  const start = text.lastIndexOf(typedMarker, end);
  return text.slice(text.indexOf("\n", start) + 1, end).trimEnd();
}

test("the page boots Debian's kernel to a busybox shell that answers typed commands", async ({ page }, testInfo) => {
  test.setTimeout(BOOT_TIMEOUT_MS + 120_000);
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });

  await page.goto("/");
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  await expect(page.locator("#status")).toHaveAttribute("data-state", "running", { timeout: 60_000 });
  await expect.poll(() => consoleText(page), { timeout: BOOT_TIMEOUT_MS, intervals: [1000] }).toMatch(/webvm-guest: init ready[\s\S]*\/root #$/);
  await page.locator("#terminal").click();
  // The serial line carries no window size: give the shell the terminal's width.
  const { cols, rows } = await page.evaluate(() => window.vmTerminalSize());
  await run(page, `stty cols ${cols} rows ${rows}`);

  expect(await run(page, "uname -a")).toMatch(/^Linux \S+ 6\.1\.0-\d+-686 #1 SMP PREEMPT_DYNAMIC Debian .* i686 GNU\/Linux$/m);
  expect(await run(page, "grep -E '^(vendor_id|fpu)\\s' /proc/cpuinfo")).toMatch(/vendor_id\s*: WebVMx86Core\nfpu\s*: yes/);
  const interrupts = await run(page, "cat /proc/interrupts");
  expect(interrupts).toMatch(/^\s*0:\s+\d+\s+IO-APIC\s+2-edge\s+timer$/m);
  expect(interrupts).toMatch(/^\s*4:\s+[1-9]\d*\s+IO-APIC\s+4-edge\s+ttyS0$/m);
  expect(await run(page, "cat /sys/devices/system/clocksource/clocksource0/current_clocksource")).toBe("kvm-clock");
  const guestSeconds = Number(await run(page, "date +%s"));
  expect(Math.abs(guestSeconds - Date.now() / 1000)).toBeLessThan(30);
  await run(page, "echo typed into the page > /tmp/file");
  expect(await run(page, "cat /tmp/file")).toBe("typed into the page");

  // Keys a shell user relies on: Tab completes a command, Up recalls the last line, Ctrl-C interrupts.
  const prompt = () => expect.poll(() => consoleText(page), { timeout: 60_000 }).toMatch(/\/root #$/);
  const count = async (pattern: RegExp) => (await consoleText(page)).match(pattern)?.length ?? 0;
  await prompt();
  await page.keyboard.type("ech");
  await page.keyboard.press("Tab");
  await page.keyboard.type('tab-"$((2 + 3))"');
  await page.keyboard.press("Enter");
  await expect.poll(() => count(/^tab-5$/gm), { timeout: 60_000 }).toBe(1);
  expect(await consoleText(page)).toMatch(/^\/root # echo tab-"\$\(\(2 \+ 3\)\)"$/m);
  await prompt();
  await page.keyboard.press("ArrowUp");
  await page.keyboard.press("Enter");
  await expect.poll(() => count(/^tab-5$/gm), { timeout: 60_000 }).toBe(2);
  await prompt();
  await page.keyboard.type("sleep 1000");
  await page.keyboard.press("Enter");
  await expect.poll(() => consoleText(page)).toMatch(/sleep 1000$/);
  await page.keyboard.press("Control+C");
  expect(await run(page, "echo status $?")).toBe("status 130");

  expect(problems).toEqual([]);
  await page.screenshot({ path: testInfo.outputPath("linux-shell.png") });
});
