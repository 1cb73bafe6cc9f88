// Register files: the core serves byte reads the device marks readable from shared memory without
// a socket message, sends the rest to the device, and never returns a value older than its own
// posted writes that could change it (assembly/register-file.ts).
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { OP_READ, OP_WRITE_POSTED } from "../assembly/abi/layout";
import { gpa, port, ramOffset } from "../workers/addresses";
import { MemoryMapError } from "../workers/memory-map";
import { RegisterFile } from "../workers/register-file";
import { SocketServer, type IoMessage } from "../workers/socket";
import type { Vm } from "../workers/vm";
import { asm } from "./fixtures/asm";
import { destroyTestVms, testVm, vcpuWithProgram } from "./fixtures/test-vm";

after(destroyTestVms);

const ENTRY = 0x1000;
const PORT = 0x50;

/** Waits `ms` in the handler, so the vCPU runs ahead of the device. */
const busyWait = (ms: number): void => {
  const end = Date.now() + ms;
  while (Date.now() < end);
};

/** A four-port device on a socket served by this thread, its register file at slots 3..6. */
async function device(vm: Vm, handler: (msg: IoMessage, file: RegisterFile) => void) {
  const socket = vm.createSocket();
  const file = new RegisterFile(socket, 3, 4);
  const seen: [op: number, offset: number, data: number][] = [];
  const server = new SocketServer(socket, (msg) => {
    seen.push([msg.op, msg.offset, msg.op === OP_READ ? 0 : msg.data]);
    handler(msg, file);
  });
  const serving = server.serveAsync();
  await vm.setMemoryMap([
    { kind: "ram", gpa: gpa(0), size: 0x10000, ramOffset: ramOffset(0) },
    { kind: "pio", port: port(PORT), size: 4, socket: socket.id, posted: true, shadow: 3 },
  ]);
  return { file, seen, stop: async () => { server.stop(); await serving; } };
}

test("reads the device marks readable are served without a message; others reach the device", async () => {
  const vm = await testVm();
  const dev = await device(vm, (msg) => { msg.data = 0x77; });
  dev.file.publish(1, 0x5a, true);
  const vcpu = await vcpuWithProgram(vm, ENTRY, [
    ...asm.inAlImm(PORT + 1), ...asm.storeAl(0x3000), ...asm.inAlImm(PORT + 1), ...asm.storeAl(0x3001),
    ...asm.inAlImm(PORT + 2), ...asm.storeAl(0x3002), // unreadable: to the device
    ...asm.movEdxImm(PORT), ...asm.inEaxDx(), ...asm.storeEax(0x3004), // wider than a byte: to the device
    ...asm.hlt(),
  ]);
  assert.deepEqual(await vcpu.run(), { reason: "hlt" });
  assert.deepEqual([...vm.ram.subarray(0x3000, 0x3003)], [0x5a, 0x5a, 0x77]);
  assert.deepEqual(dev.seen, [[OP_READ, 2, 0], [OP_READ, 0, 0]]);
  const stats = vcpu.stats();
  assert.equal(stats.pioShadow, 2);
  assert.equal(stats.pioSync, 2);
  await dev.stop();
});

test("a read after a posted write that may change the file waits for the device; after a quiet one it does not", async () => {
  const vm = await testVm();
  // Offset 0 sets the register at offset 1 (slowly); offset 2 changes nothing published.
  const dev = await device(vm, (msg, file) => {
    if (msg.op === OP_READ) msg.data = file.readable(1) ?? 0xee;
    else if (msg.offset === 0) {
      busyWait(30);
      file.publish(1, msg.data, true);
    } else busyWait(30);
  });
  dev.file.publish(1, 0x11, true);
  dev.file.publish(2, undefined, true);
  const vcpu = await vcpuWithProgram(vm, ENTRY, [
    ...asm.movAlImm(0x42), ...asm.outImmAl(PORT), ...asm.inAlImm(PORT + 1), ...asm.storeAl(0x3000),
    ...asm.outImmAl(PORT + 2), ...asm.inAlImm(PORT + 1), ...asm.storeAl(0x3001),
    ...asm.hlt(),
  ]);
  assert.deepEqual(await vcpu.run(), { reason: "hlt" });
  assert.deepEqual([...vm.ram.subarray(0x3000, 0x3002)], [0x42, 0x42]);
  assert.deepEqual(dev.seen, [[OP_WRITE_POSTED, 0, 0x42], [OP_READ, 1, 0], [OP_WRITE_POSTED, 2, 0x42]]);
  assert.equal(vcpu.stats().pioShadow, 1);
  await dev.stop();
});

test("a write marked quiet still fences while an earlier write that may change its mark is unhandled", async () => {
  const vm = await testVm();
  // Offset 0 switches the device into a mode where writes to offset 2 set the register at offset
  // 1, and raises a flag in RAM; the guest reads offset 1 once the flag is up, while the device
  // still handles its write to offset 2, which it posted when the mark said quiet.
  let mode = false;
  const dev = await device(vm, (msg, file) => {
    if (msg.op === OP_READ) msg.data = file.readable(1) ?? 0xee;
    else if (msg.offset === 0) {
      busyWait(20);
      mode = true;
      file.publish(2, undefined, false);
      vm.ram[0x4000] = 1;
    } else if (msg.offset === 2 && mode) {
      busyWait(100);
      file.publish(1, msg.data, true);
    }
  });
  dev.file.publish(1, 0x11, true);
  dev.file.publish(2, undefined, true);
  const waitForFlag = asm.cmpMemImm8(0x4000, 0);
  const vcpu = await vcpuWithProgram(vm, ENTRY, [
    ...asm.outImmAl(PORT), ...asm.movAlImm(0x66), ...asm.outImmAl(PORT + 2),
    ...waitForFlag, ...asm.jeBack(waitForFlag.length),
    ...asm.inAlImm(PORT + 1), ...asm.storeAl(0x3000),
    ...asm.hlt(),
  ]);
  assert.deepEqual(await vcpu.run(), { reason: "hlt" });
  assert.equal(vm.ram[0x3000], 0x66);
  await dev.stop();
});

test("a map refuses a register file that does not fit the socket's slots", async () => {
  const vm = await testVm();
  const socket = vm.createSocket();
  await assert.rejects(
    vm.setMemoryMap([{ kind: "pio", port: port(PORT), size: 8, socket: socket.id, shadow: 30 }]),
    (error) => error instanceof MemoryMapError && /does not fit/.test(error.message),
  );
});
