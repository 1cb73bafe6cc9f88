// The first machine end to end in Node: vCPU worker, UART worker, socket with posted writes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { HelloMachine } from "../workers/hello-machine";
import { loadCore, spawnVcpu } from "../workers/node-host";
import { spawnNodeWorker } from "../workers/node-spawn";
import { REG } from "../workers/registers";

const spawnUart = () => spawnNodeWorker(new URL("../workers/devices/uart-worker.ts", import.meta.url));

describe("hello machine", () => {
  let machine: HelloMachine;
  const output: Uint8Array[] = [];

  before(async () => {
    machine = await HelloMachine.create({ core: await loadCore(), spawnVcpu, spawnUart, onOutput: (bytes) => output.push(bytes) });
  });
  after(() => machine.destroy());

  it("prints exactly hello\\r\\n on COM1 and halts, with all output delivered by the time run() resolves", async () => {
    const exit = await machine.run();
    assert.deepEqual(exit, { reason: "hlt" });
    assert.equal(Buffer.concat(output).toString("latin1"), "hello\r\n");
  });

  it("retired every guest instruction: mov edx, 7 x (mov al + out), hlt", () => {
    const [count] = machine.vm.vcpus[0].getState([REG.instructions]);
    assert.equal(count.value, 16n);
  });
});
