// The README's API example runs as written and prints the exits its comments promise.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { test } from "node:test";
import { promisify } from "node:util";

const root = new URL("../", import.meta.url);

test("the README's VM example prints an io exit for port 0xE9, then hlt", async () => {
  const readme = await readFile(new URL("README.md", root), "utf8");
  const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(example, "README.md has a ts example");
  // Written at the root so its relative imports resolve as in the README.
  const file = new URL(".readme-example.ts", root);
  await writeFile(file, example);
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", file.pathname], { timeout: 30_000 });
    assert.match(stdout, /reason: 'io',\s+space: 'pio',\s+address: 233,\s+size: 1,\s+write: true,\s+data: 104n/);
    assert.match(stdout, /\{ reason: 'hlt' \}/);
  } finally {
    await rm(file);
  }
});
