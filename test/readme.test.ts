// The README's examples: the low-level VM example runs as written and prints the exits its
// comments promise; the createVM example typechecks against the API; the Playwright recipe is
// the fixture file and the test that e2e runs.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { test } from "node:test";
import { promisify } from "node:util";

const root = new URL("../", import.meta.url);
const run = promisify(execFile);

/** The README's ts code blocks. */
async function examples(): Promise<string[]> {
  const readme = await readFile(new URL("README.md", root), "utf8");
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
}

/** The one example that contains `marker`. */
async function example(marker: string): Promise<string> {
  const found = (await examples()).filter((code) => code.includes(marker));
  assert.equal(found.length, 1, `README.md has one ts example with ${marker}`);
  return found[0];
}

test("the README's VM example prints an io exit for port 0xE9, then hlt", async () => {
  // Written at the root so its relative imports resolve as in the README.
  const file = new URL(".readme-example.ts", root);
  await writeFile(file, await example("loadCore()"));
  try {
    const { stdout } = await run(process.execPath, ["--import", "tsx", file.pathname], { timeout: 30_000 });
    assert.match(stdout, /reason: 'io',\s+space: 'pio',\s+address: 233,\s+size: 1,\s+write: true,\s+data: 104n/);
    assert.match(stdout, /\{ reason: 'hlt' \}/);
  } finally {
    await rm(file);
  }
});

test("the README's createVM example typechecks against the VM handle API", async () => {
  const file = new URL(".readme-createvm.ts", root);
  // The example writes to a terminal it does not create.
  await writeFile(file, `declare const terminal: import("@xterm/xterm").Terminal;\n${await example("createVM({")}`);
  try {
    const tsc = new URL("node_modules/typescript/bin/tsc", root).pathname;
    await run(process.execPath, [tsc, "--noEmit", "--target", "es2022", "--module", "esnext", "--moduleResolution", "bundler",
      "--lib", "es2024,dom,dom.iterable", "--strict", "--skipLibCheck", "--types", "node,vite/client", file.pathname], { timeout: 60_000 })
      .catch((error: { stdout?: string }) => assert.fail(`the example does not typecheck:\n${error.stdout}`));
  } finally {
    await rm(file);
  }
});

test("the README's Playwright recipe is e2e/vm-fixture.ts and a test e2e/vm-api.spec.ts runs", async () => {
  const fixture = await readFile(new URL("e2e/vm-fixture.ts", root), "utf8");
  assert.equal(await example("base.extend"), fixture);
  const spec = await readFile(new URL("e2e/vm-api.spec.ts", root), "utf8");
  assert.ok(spec.includes(await example(`from "./vm-fixture"`)), "e2e/vm-api.spec.ts holds the README's test as written");
});
