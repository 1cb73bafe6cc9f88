// Dirty logging: guest RAM writes mark their pages (by RAM offset, so aliases share a bit) only
// while logging is on; collection is range- and work-based and clears what it returns.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { gpa, ramOffset } from "../workers/addresses";
import { asm } from "./fixtures/asm";
import { destroyTestVms, testVm, vcpuWithProgram } from "./fixtures/test-vm";

after(destroyTestVms);

test("guest writes mark pages while logging is on; collect is range- and work-based", async () => {
  const vm = await testVm();
  await vm.setMemoryMap([
    { kind: "ram", gpa: gpa(0), size: 0x10000, ramOffset: ramOffset(0) },
    { kind: "ram", gpa: gpa(0x80000), size: 0x1000, ramOffset: ramOffset(0x9000) }, // an alias of RAM offset 0x9000
    { kind: "rom", gpa: gpa(0xf0000), size: 0x1000, ramOffset: ramOffset(0xa000) },
  ]);
  const vcpu = await vcpuWithProgram(vm, 0x1000, [
    ...asm.storeAl(0x3000), // logging off: not recorded
    0xf4,
    ...asm.storeAl(0x3004), ...asm.storeEax(0x5ffe), ...asm.storeAl(0x80010), ...asm.storeAl(0xf0000), ...asm.loadEax(0x7000), 0xf4,
  ]);
  assert.deepEqual(await vcpu.run(), { reason: "hlt" });
  assert.deepEqual(vm.dirtyLog.collect(), []);
  vm.dirtyLog.setEnabled(true);
  assert.deepEqual(await vcpu.run(), { reason: "hlt" });
  assert.deepEqual(vm.dirtyLog.collect({ start: 0x5000, end: 0x6000 }), [0x5000]);
  assert.deepEqual(vm.dirtyLog.collect({ maxPages: 2 }), [0x3000, 0x6000]);
  assert.deepEqual(vm.dirtyLog.collect(), [0x9000], "the alias marked its RAM page; ROM and reads marked nothing");
  assert.deepEqual(vm.dirtyLog.collect(), []);
  assert.throws(() => vm.dirtyLog.collect({ maxPages: -1 }), RangeError);
});
