// The first guest in the real page: COM1 output reaches the xterm.js terminal.
import { expect, test } from "@playwright/test";

test("the hello guest prints through COM1 into the terminal and halts", async ({ page }, testInfo) => {
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });

  await page.goto("/");
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  await expect.poll(() => page.evaluate(() => window.vmConsoleText())).toBe("hello");
  await expect(page.locator("#status")).toHaveAttribute("data-exit", "hlt");
  await expect(page.locator("#status")).toHaveText("Guest halted (HLT).");
  expect(problems).toEqual([]);
  await page.screenshot({ path: testInfo.outputPath("hello.png") });
});
