// A Playwright fixture: the page's VM booted to its shell once per worker, and a helper that runs
// a shell command through the automation API (window.vm). The README shows this file as its recipe.
import { expect, test as base, type Page } from "@playwright/test";

export const test = base.extend<object, { vmPage: Page }>({
  vmPage: [async ({ browser }, use) => {
    const page = await browser.newPage();
    await page.goto("/");
    await page.waitForFunction(() => window.vm !== undefined);
    await page.evaluate(() => window.vm!.console.waitFor("/root # ", { timeout: 300_000 }));
    await use(page);
    await page.close();
  }, { scope: "worker", timeout: 360_000 }],
});
export { expect };

/** Runs `command` in the guest's shell and returns what it printed (without the echoed command line). */
export function sh(page: Page, command: string): Promise<string> {
  return page.evaluate(async (command) => {
    window.vm!.console.write(`${command}\n`);
    const { before } = await window.vm!.console.waitFor("/root # ");
    return before.slice(before.indexOf("\n") + 1).trimEnd();
  }, command);
}
