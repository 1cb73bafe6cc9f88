// The automation console (web/vm/console.ts): text without control sequences, expect-style waits,
// timeouts and the end of the VM.
import assert from "node:assert/strict";
import { test } from "node:test";
import { VMConsole, VMEndedError } from "../web/vm/console";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

test("text() drops control sequences and carriage returns, even split across batches", () => {
  const console = new VMConsole(() => undefined);
  console.receive(bytes("\x1b[1;32mgreen\x1b[0m\r\n/root # \x1b["));
  console.receive(bytes("6n"));
  console.receive(bytes("\x1b]0;title\x07caf"));
  console.receive(new Uint8Array([0xc3]));
  console.receive(new Uint8Array([0xa9]));
  assert.equal(console.text(), "green\n/root # café");
});

test("waitFor resolves with the match and what came before it, and the next wait starts after it", async () => {
  const console = new VMConsole(() => undefined);
  console.receive(bytes("boot\n/root # "));
  const prompt = await console.waitFor("/root # ");
  assert.deepEqual(prompt, { text: "/root # ", index: 5, captures: [], before: "boot\n" });
  const next = console.waitFor("/root # ");
  const output = console.waitFor(/^Linux (\S+)/m);
  console.receive(bytes("uname\nLinux box 6.1\n/root # "));
  assert.deepEqual(await output, { text: "Linux box", index: 19, captures: ["box"], before: "uname\n" });
  assert.equal((await next).before, "uname\nLinux box 6.1\n");
  // A global RegExp is searched afresh each time, not from its lastIndex.
  const global = /#/g;
  global.lastIndex = 1000;
  const hash = console.waitFor(global);
  console.receive(bytes("#"));
  assert.equal((await hash).text, "#");
});

test("waitFor rejects on timeout naming the pattern, and when the VM ends first", async () => {
  const console = new VMConsole(() => undefined);
  console.receive(bytes("nothing yet"));
  await assert.rejects(console.waitFor("login:", { timeout: 20 }), /waitFor\("login:"\) timed out after 20 ms; the console ends with: "nothing yet"/);
  const pending = console.waitFor(/never/);
  console.end({ reason: "power-off" });
  await assert.rejects(pending, (error: Error) => error instanceof VMEndedError && /the VM ended \(power-off\) first/.test(error.message));
  await assert.rejects(console.waitFor("x"), VMEndedError);
  assert.throws(() => console.write("ls\n"), /the VM has ended \(power-off\)/);
  await assert.rejects(console.waitFor(""), TypeError);
});

test("write() sends UTF-8 bytes", () => {
  const sent: Uint8Array[] = [];
  const console = new VMConsole((data) => sent.push(data));
  console.write("é\n");
  console.write(Uint8Array.of(3));
  assert.deepEqual(sent.map((data) => [...data]), [[0xc3, 0xa9, 0x0a], [3]]);
});
