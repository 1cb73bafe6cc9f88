// The tag/value register catalogue: unique self-describing tags, round trips of every register,
// all-or-nothing batches and typed errors.
import assert from "node:assert/strict";
import { test } from "node:test";
import { VCPU_BLOCK_SIZE } from "../assembly/abi/layout";
import { readRegisters, REG, RegisterError, REGISTERS, resetState, writeRegisters } from "../workers/registers";

test("tags are unique and encode their register's size", () => {
  assert.equal(new Set(REGISTERS.map((r) => r.tag)).size, REGISTERS.length);
  for (const r of REGISTERS) {
    assert.equal(1 << ((r.tag >>> 16) & 0xff), r.bytes, r.name);
    assert.ok(r.offset + r.bytes <= VCPU_BLOCK_SIZE, r.name);
  }
});

test("every writable register round-trips its largest value without touching the others", () => {
  const buffer = new ArrayBuffer(VCPU_BLOCK_SIZE);
  const writable = REGISTERS.filter((r) => r.access !== "ro");
  writable.forEach((r, i) => {
    const value = (1n << BigInt(r.bytes * 8)) - 1n - BigInt(i);
    writeRegisters(buffer, 0, [{ tag: r.tag, value }]);
  });
  const values = readRegisters(buffer, 0, writable.map((r) => r.tag));
  values.forEach(({ value }, i) => assert.equal(value, (1n << BigInt(writable[i].bytes * 8)) - 1n - BigInt(i), writable[i].name));
});

test("a batch with one bad entry changes nothing", () => {
  const buffer = new ArrayBuffer(VCPU_BLOCK_SIZE);
  assert.throws(() => writeRegisters(buffer, 0, [{ tag: REG.rax, value: 5n }, { tag: REG["cs.selector"], value: 0x10000 }]), RegisterError);
  assert.equal(readRegisters(buffer, 0, [REG.rax])[0].value, 0n);
});

test("unknown tags, read-only registers and values that do not fit are typed errors", () => {
  const buffer = new ArrayBuffer(VCPU_BLOCK_SIZE);
  assert.throws(() => readRegisters(buffer, 0, [0x7f000000]), (e: unknown) => e instanceof RegisterError && e.tag === 0x7f000000 && /no register/.test(e.message));
  assert.throws(() => writeRegisters(buffer, 0, [{ tag: REG.instructions, value: 0n }]), /read-only/);
  assert.throws(() => writeRegisters(buffer, 0, [{ tag: REG.rip, value: -1 }]), /does not fit/);
  assert.throws(() => writeRegisters(buffer, 0, [{ tag: REG.rip, value: 1.5 }]), /does not fit/);
});

test("the reset state is the SDM's: CS:IP F000:FFF0 at FFFFFFF0, CR0 60000010", () => {
  const buffer = new ArrayBuffer(VCPU_BLOCK_SIZE);
  writeRegisters(buffer, 0, resetState());
  const [cs, base, rip, cr0, flags] = readRegisters(buffer, 0, [REG["cs.selector"], REG["cs.base"], REG.rip, REG.cr0, REG.rflags]).map((e) => e.value);
  assert.deepEqual([cs, base + rip, cr0, flags], [0xf000n, 0xfffffff0n, 0x60000010n, 2n]);
});
