// vCPU workers end to end: exits to the owner, I/O completion, MMIO through a socket, ROM,
// accesses split across regions, and the lifecycle (pause, resume, kick, destroy, failure).
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { OP_READ, OP_WRITE, OP_WRITE_POSTED } from "../assembly/abi/layout";
import { gpa, ramOffset } from "../workers/addresses";
import { spawnVcpu } from "../workers/node-host";
import { spawnNodeWorker } from "../workers/node-spawn";
import { REG } from "../workers/registers";
import { SocketServer } from "../workers/socket";
import { VcpuError } from "../workers/vcpu";
import { Vm } from "../workers/vm";
import { asm } from "./fixtures/asm";
import type { DeviceInit } from "./fixtures/socket-device";
import { destroyTestVms, testVm, vcpuWithProgram } from "./fixtures/test-vm";

after(destroyTestVms);

const ENTRY = 0x1000;
const value = (vcpu: { getState(tags: number[]): { value: bigint }[] }, tag: number): number => Number(vcpu.getState([tag])[0].value);

test("a program runs to HLT and its registers and memory show what it did", async () => {
  const vm = await testVm();
  const vcpu = await vcpuWithProgram(vm, ENTRY, [...asm.movEaxImm(0xdeadbeef), ...asm.storeEax(0x3000), ...asm.storeAx(0x3006), ...asm.hlt()]);
  assert.equal(vcpu.state, "ready");
  assert.deepEqual(await vcpu.run(), { reason: "hlt" });
  assert.equal(vcpu.state, "exited");
  assert.equal(value(vcpu, REG.rax), 0xdeadbeef);
  assert.equal(value(vcpu, REG.instructions), 4);
  assert.equal(value(vcpu, REG.rip), ENTRY + 5 + 5 + 6 + 1);
  assert.deepEqual([...vm.ram.subarray(0x3000, 0x3008)], [0xef, 0xbe, 0xad, 0xde, 0, 0, 0xef, 0xbe]);
});

test("port accesses no socket claims exit to the owner, who answers reads in place", async () => {
  const vm = await testVm();
  const vcpu = await vcpuWithProgram(vm, ENTRY, [...asm.movAlImm(0x41), ...asm.outImmAl(0x80), ...asm.inAlImm(0x71), ...asm.storeAl(0x3000), ...asm.hlt()]);
  assert.deepEqual(await vcpu.run(), { reason: "io", space: "pio", address: 0x80, size: 1, write: true, data: 0x41n });
  assert.equal(value(vcpu, REG.rip), ENTRY + 2, "RIP points at the OUT during its exit");
  assert.deepEqual(await vcpu.run(), { reason: "io", space: "pio", address: 0x71, size: 1, write: false, data: 0n });
  vcpu.completeIo(0x5a);
  assert.deepEqual(await vcpu.run(), { reason: "hlt" });
  assert.equal(vm.ram[0x3000], 0x5a);
});

test("MMIO reaches a device through its socket: posted writes in order before a synchronous read", async () => {
  const vm = await testVm();
  const socket = vm.createSocket();
  const seen: [number, number, number, number][] = [];
  const server = new SocketServer(socket, (msg) => {
    seen.push([msg.op, msg.offset, msg.size, msg.data]);
    if (msg.op === OP_READ) msg.data = 0xcafe0000 + msg.offset;
  });
  const serving = server.serveAsync();
  await vm.setMemoryMap([
    { kind: "ram", gpa: gpa(0), size: 0x10000, ramOffset: ramOffset(0) },
    { kind: "mmio", gpa: gpa(0xfec00000), size: 0x100, socket: socket.id, tag: 7, posted: true },
    { kind: "mmio", gpa: gpa(0xfed00000), size: 0x100, socket: socket.id, tag: 8 },
  ]);
  const vcpu = await vcpuWithProgram(vm, ENTRY, [
    ...asm.movEaxImm(0x11), ...asm.storeEax(0xfec00010), ...asm.movEaxImm(0x22), ...asm.storeEax(0xfec00014),
    ...asm.storeAl(0xfed00004), ...asm.loadEax(0xfec00020), ...asm.storeEax(0x3000), ...asm.hlt(),
  ]);
  assert.deepEqual(await vcpu.run(), { reason: "hlt" });
  assert.deepEqual(seen, [[OP_WRITE_POSTED, 0x10, 4, 0x11], [OP_WRITE_POSTED, 0x14, 4, 0x22], [OP_WRITE, 4, 1, 0x22], [OP_READ, 0x20, 4, 0]]);
  assert.equal(new DataView(vm.ram.buffer, vm.ram.byteOffset).getUint32(0x3000, true), 0xcafe0020);
  server.stop();
  await serving;
});

test("an exit reaches the owner only after the device handled every posted write before it", async () => {
  const vm = await testVm();
  const socket = vm.createSocket();
  const handled = new Int32Array(new SharedArrayBuffer(4));
  const device = spawnNodeWorker(new URL("./fixtures/socket-device.ts", import.meta.url));
  device.postMessage({ socket, mode: "async", slowUs: 50, handled } satisfies DeviceInit);
  try {
    await vm.setMemoryMap([
      { kind: "ram", gpa: gpa(0), size: 0x10000, ramOffset: ramOffset(0) },
      { kind: "mmio", gpa: gpa(0xfec00000), size: 0x100, socket: socket.id, posted: true },
    ]);
    const writes = Array.from({ length: 200 }, (_, i) => [...asm.movEaxImm(i), ...asm.storeEax(0xfec00000)]).flat();
    const vcpu = await vcpuWithProgram(vm, ENTRY, [...writes, ...asm.hlt()]);
    assert.deepEqual(await vcpu.run(), { reason: "hlt" });
    assert.equal(Atomics.load(handled, 0), 200);
  } finally {
    device.terminate();
  }
});

test("ROM reads like RAM and drops writes; an access straddling RAM's end is split per byte", async () => {
  const vm = await testVm();
  await vm.setMemoryMap([
    { kind: "ram", gpa: gpa(0), size: 0x10000, ramOffset: ramOffset(0) },
    { kind: "rom", gpa: gpa(0xf0000), size: 0x1000, ramOffset: ramOffset(0x20000) },
  ]);
  vm.ram.set([1, 2, 3, 4], 0x20000);
  const vcpu = await vcpuWithProgram(vm, ENTRY, [
    ...asm.loadEax(0xf0000), ...asm.storeEax(0x3000), ...asm.storeEax(0xf0000), ...asm.storeEax(0xfffe), ...asm.hlt(),
  ]);
  const exit1 = await vcpu.run();
  assert.deepEqual(exit1, { reason: "io", space: "mmio", address: 0x10000, size: 1, write: true, data: 3n });
  assert.deepEqual(await vcpu.run(), { reason: "io", space: "mmio", address: 0x10001, size: 1, write: true, data: 4n });
  assert.deepEqual(await vcpu.run(), { reason: "hlt" });
  assert.deepEqual([...vm.ram.subarray(0x3000, 0x3004)], [1, 2, 3, 4]);
  assert.deepEqual([...vm.ram.subarray(0x20000, 0x20004)], [1, 2, 3, 4], "ROM unchanged");
  assert.deepEqual([...vm.ram.subarray(0xfffe, 0x10000)], [1, 2]);
});

test("unsupported opcodes and fetches outside RAM stop the vCPU with a typed exit", async () => {
  const vm = await testVm();
  const vcpu = await vcpuWithProgram(vm, ENTRY, [0x0f, 0x10, 0xc1]); // movups xmm0, xmm1: no SSE in this core
  assert.deepEqual(await vcpu.run(), { reason: "unsupported-instruction", opcode: 0x0f10, rip: ENTRY });
  vcpu.setState([{ tag: REG.rip, value: 0x200000 }]);
  assert.deepEqual(await vcpu.run(), { reason: "fetch-fault", address: 0x200000 });
});

test("pause, resume and kick a running vCPU; lifecycle calls in the wrong state are refused", { timeout: 5000 }, async () => {
  const vm = await testVm();
  const vcpu = await vcpuWithProgram(vm, ENTRY, asm.loopBack(0));
  const running = vcpu.run();
  while (vcpu.state !== "running") await new Promise((r) => setTimeout(r, 1));
  await assert.rejects(vcpu.run(), VcpuError);
  assert.throws(() => vcpu.getState([REG.rip]), /while running/);
  vcpu.kick();
  await vcpu.pause();
  assert.equal(vcpu.state, "paused");
  const before = value(vcpu, REG.instructions);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(value(vcpu, REG.instructions), before, "a paused vCPU retires nothing");
  assert.equal(value(vcpu, REG.rip), ENTRY);
  vcpu.resume();
  await new Promise((r) => setTimeout(r, 30));
  await vcpu.pause();
  assert.ok(value(vcpu, REG.instructions) > before, "a resumed vCPU runs again");
  vcpu.resume();
  await vm.destroy();
  await assert.rejects(running, /destroyed/);
  assert.equal(vcpu.state, "destroyed");
});

test("a core that cannot start fails the vCPU with the reason", async () => {
  // A valid module without the core's exports.
  const empty = await WebAssembly.compile(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
  const vm = new Vm({ ramBytes: 1 << 16, core: empty, spawnVcpu });
  await assert.rejects(vm.createVcpu(), (error: unknown) => error instanceof VcpuError && /failed/.test(error.message));
});
