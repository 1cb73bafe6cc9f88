// Memory-map replacement with vCPUs running in real workers: the RCU grace period, rapid
// republication under concurrent readers, ordering, and refusal of a bad map.
import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { after, test } from "node:test";
import { VCPU_MAP_GEN_U32, VMH_BASE, VMH_MAP_GEN_U32 } from "../assembly/abi/layout";
import { gpa, ramOffset } from "../workers/addresses";
import { MemoryMapError, type Region } from "../workers/memory-map";
import type { VcpuExit } from "../workers/exits";
import type { Vm } from "../workers/vm";
import { vcpuBlockBase } from "../workers/vm-layout";
import { asm } from "./fixtures/asm";
import { destroyTestVms, flat32, testVm } from "./fixtures/test-vm";

after(destroyTestVms);

const words = (vm: Vm): Int32Array => new Int32Array(vm.memory.buffer);
const currentGen = (vm: Vm): number => Atomics.load(words(vm), (VMH_BASE + VMH_MAP_GEN_U32) >> 2);
const vcpuGen = (vm: Vm, index: number): number => Atomics.load(words(vm), (vcpuBlockBase(index) + VCPU_MAP_GEN_U32) >> 2);

/** Starts `count` vCPUs, vCPU i running `program(i)` at 0x1000 + 0x100 * i. */
async function startVcpus(vm: Vm, count: number, program: (i: number) => number[]): Promise<Promise<VcpuExit | Error>[]> {
  const runs: Promise<VcpuExit | Error>[] = [];
  for (let i = 0; i < count; i++) {
    vm.ram.set(program(i), 0x1000 + 0x100 * i);
    const vcpu = await vm.createVcpu();
    flat32(vcpu, 0x1000 + 0x100 * i);
    // destroy() at the end of the file rejects the pending runs; that is expected.
    runs.push(vcpu.run().catch((error: Error) => error));
  }
  while (vm.vcpus.some((v) => v.state !== "running")) await new Promise((r) => setTimeout(r, 1));
  return runs;
}

const nap = new Int32Array(new SharedArrayBuffer(4));
const lowRam: Region = { kind: "ram", gpa: gpa(0), size: 0x2000, ramOffset: ramOffset(0) };

test("setMemoryMap resolves only once every running vCPU uses the new table, even mid-slice", async () => {
  // A slice this long never ends by itself: only the publisher's kick brings the vCPUs to a quiescent point.
  const vm = await testVm({ slice: 0x7fffffff });
  await startVcpus(vm, 4, () => asm.loopBack(0));
  for (let round = 0; round < 5; round++) {
    await vm.setMemoryMap([lowRam, { kind: "ram", gpa: gpa(0x2000 + round * 0x1000), size: 0x1000, ramOffset: ramOffset(0x2000) }]);
    const gen = currentGen(vm);
    assert.deepEqual([0, 1, 2, 3].map((i) => vcpuGen(vm, i)), [gen, gen, gen, gen]);
  }
});

test("vCPUs reading through a page that is remapped 200 times see only whole tables, and the new one after each publish", async () => {
  const vm = await testVm();
  const [pageA, pageB] = [0x10000, 0x11000];
  vm.ram[pageA] = 0xaa;
  vm.ram[pageB] = 0xbb;
  // As many vCPUs as this machine has cores to spare beside the test itself, at least two.
  const VCPUS = Math.max(2, Math.min(4, availableParallelism() - 1));
  // vCPU i copies the byte at 0x2000 to 0x4000 + i, forever.
  const runs = await startVcpus(vm, VCPUS, (i) => [...asm.loadAl(0x2000), ...asm.storeAl(0x4000 + i), ...asm.loopBack(10)]);
  let exited = false;
  runs.forEach((run) => run.then((outcome) => (exited ||= !(outcome instanceof Error))));
  const mapA: Region[] = [lowRam, { kind: "ram", gpa: gpa(0x2000), size: 0x1000, ramOffset: ramOffset(pageA) }, { kind: "ram", gpa: gpa(0x3000), size: 0x2000, ramOffset: ramOffset(0x3000) }];
  // Map B differs in shape too (more, differently split entries), so a torn read would fault.
  const mapB: Region[] = [
    { kind: "ram", gpa: gpa(0), size: 0x1000, ramOffset: ramOffset(0) }, { kind: "ram", gpa: gpa(0x1000), size: 0x1000, ramOffset: ramOffset(0x1000) },
    { kind: "ram", gpa: gpa(0x2000), size: 0x1000, ramOffset: ramOffset(pageB) }, { kind: "ram", gpa: gpa(0x3000), size: 0x1000, ramOffset: ramOffset(0x3000) },
    { kind: "ram", gpa: gpa(0x4000), size: 0x1000, ramOffset: ramOffset(0x4000) },
  ];
  const seen = (i: number): number => Atomics.load(new Uint8Array(vm.memory.buffer), vm.layout.ramBase + 0x4000 + i);
  /** The second value vCPU i stores after now: the first may come from a read before the switch. */
  const secondStore = (i: number): number => {
    let value = 0;
    for (let store = 0; store < 2; store++) {
      Atomics.store(new Uint8Array(vm.memory.buffer), vm.layout.ramBase + 0x4000 + i, 0);
      const deadline = performance.now() + 2000;
      // Sleep 20 us between looks: spinning would take a core from the vCPUs on a small machine.
      while ((value = seen(i)) === 0) {
        assert.ok(performance.now() < deadline, `vCPU ${i} stopped storing`);
        Atomics.wait(nap, 0, 0, 0.02);
      }
    }
    return value;
  };
  for (let round = 0; round < 200; round++) {
    const useB = round % 2 === 0;
    await vm.setMemoryMap(useB ? mapB : mapA);
    for (let i = 0; i < VCPUS; i++) assert.equal(secondStore(i), useB ? 0xbb : 0xaa, `round ${round}, vCPU ${i}`);
  }
  assert.equal(exited, false, "no vCPU faulted on a torn or reused table");
});

test("overlapping publications apply in call order", async () => {
  const vm = await testVm();
  const maps = [0x20000, 0x30000, 0x40000].map((at): Region[] => [lowRam, { kind: "ram", gpa: gpa(at), size: 0x1000, ramOffset: ramOffset(0x2000) }]);
  const order: number[] = [];
  await Promise.all(maps.map((map, i) => vm.setMemoryMap(map).then(() => order.push(i))));
  assert.deepEqual(order, [0, 1, 2]);
  vm.ram[0x2000] = 0x77;
  const vcpu = await vm.createVcpu();
  vm.ram.set([...asm.loadAl(0x40000), ...asm.storeAl(0x1800), ...asm.hlt()], 0x1000);
  flat32(vcpu, 0x1000);
  assert.deepEqual(await vcpu.run(), { reason: "hlt" });
  assert.equal(vm.ram[0x1800], 0x77);
});

test("a bad map is refused with the region named and the current map stays", async () => {
  const vm = await testVm();
  const gen = currentGen(vm);
  await assert.rejects(vm.setMemoryMap([lowRam, { kind: "ram", gpa: gpa(0x1000), size: 0x1000, ramOffset: ramOffset(0) }]), (error: unknown) =>
    error instanceof MemoryMapError && error.index === 1 && /overlaps region 0/.test(error.message));
  assert.equal(currentGen(vm), gen);
  await vm.setMemoryMap([lowRam]);
  assert.equal(currentGen(vm), gen + 1);
});
