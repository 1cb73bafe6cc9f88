/**
 * Just enough of the WebAssembly binary format (core spec, chapter 5) to write the modules the
 * block compiler makes: i32 code over one imported shared memory, imported functions and mutable
 * globals, exported functions.
 */

/** Opcodes used by the compiler. */
export const Op = {
  unreachable: 0x00, block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br: 0x0c, brIf: 0x0d, return: 0x0f,
  call: 0x10, drop: 0x1a, select: 0x1b,
  localGet: 0x20, localSet: 0x21, localTee: 0x22, globalGet: 0x23, globalSet: 0x24,
  i32Load: 0x28, i32Load8S: 0x2c, i32Load8U: 0x2d, i32Load16S: 0x2e, i32Load16U: 0x2f,
  i32Store: 0x36, i32Store8: 0x3a, i32Store16: 0x3b,
  i32Const: 0x41,
  i32Eqz: 0x45, i32Eq: 0x46, i32Ne: 0x47, i32LtS: 0x48, i32LtU: 0x49, i32GtS: 0x4a, i32GtU: 0x4b,
  i32LeS: 0x4c, i32LeU: 0x4d, i32GeS: 0x4e, i32GeU: 0x4f,
  i32Add: 0x6a, i32Sub: 0x6b, i32Mul: 0x6c, i32And: 0x71, i32Or: 0x72, i32Xor: 0x73, i32Shl: 0x74,
  i32ShrS: 0x75, i32ShrU: 0x76, i32Popcnt: 0x69, i32Extend8S: 0xc0, i32Extend16S: 0xc1,
  i64Ne: 0x52, i64Mul: 0x7e, i64ExtendI32S: 0xac,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

const I32 = 0x7f;
const VOID_BLOCK = 0x40;

/** A growing byte buffer with the format's integer encodings. */
export class ByteWriter {
  private buffer: Uint8Array<ArrayBuffer> = new Uint8Array(256);
  length = 0;

  byte(value: number): this {
    if (this.length === this.buffer.length) {
      const grown = new Uint8Array(this.buffer.length * 2);
      grown.set(this.buffer);
      this.buffer = grown;
    }
    this.buffer[this.length++] = value;
    return this;
  }

  /** Unsigned LEB128 (u32). */
  u32(value: number): this {
    let v = value >>> 0;
    do {
      const low = v & 0x7f;
      v >>>= 7;
      this.byte(v !== 0 ? low | 0x80 : low);
    } while (v !== 0);
    return this;
  }

  /** Signed LEB128 (i32; u32 values are taken as their i32 bit pattern). */
  s32(value: number): this {
    let v = value | 0;
    for (;;) {
      const low = v & 0x7f;
      v >>= 7;
      const done = (v === 0 && (low & 0x40) === 0) || (v === -1 && (low & 0x40) !== 0);
      this.byte(done ? low : low | 0x80);
      if (done) return this;
    }
  }

  name(text: string): this {
    const bytes = new TextEncoder().encode(text);
    this.u32(bytes.length);
    for (const b of bytes) this.byte(b);
    return this;
  }

  append(other: ByteWriter): this {
    for (let i = 0; i < other.length; i++) this.byte(other.buffer[i]);
    return this;
  }

  bytes(): Uint8Array<ArrayBuffer> {
    return this.buffer.slice(0, this.length);
  }
}

/** A function body's instructions, with helpers for the forms the compiler emits. */
export class CodeWriter extends ByteWriter {
  op(code: Op): this {
    return this.byte(code);
  }

  i32(value: number): this {
    return this.byte(Op.i32Const).s32(value);
  }

  local(code: typeof Op.localGet | typeof Op.localSet | typeof Op.localTee, index: number): this {
    return this.byte(code).u32(index);
  }

  global(code: typeof Op.globalGet | typeof Op.globalSet, index: number): this {
    return this.byte(code).u32(index);
  }

  call(func: number): this {
    return this.byte(Op.call).u32(func);
  }

  /** A load or store at a constant offset from the address on the stack (`align`: log2 bytes). */
  memory(code: Op, offset: number, align: number): this {
    return this.byte(code).u32(align).u32(offset);
  }

  /** `if` with no result. */
  ifVoid(): this {
    return this.byte(Op.if).byte(VOID_BLOCK);
  }

  /** `loop` with no result. */
  loop(): this {
    return this.byte(Op.loop).byte(VOID_BLOCK);
  }

  /** i32.atomic.load at a constant offset from the address on the stack. */
  atomicLoad(offset: number): this {
    return this.byte(0xfe).byte(0x10).u32(2).u32(offset);
  }

  /** `block` with no result. */
  block(): this {
    return this.byte(Op.block).byte(VOID_BLOCK);
  }

  br(depth: number): this {
    return this.byte(Op.br).u32(depth);
  }

  brIf(depth: number): this {
    return this.byte(Op.brIf).u32(depth);
  }
}

/** An imported function of `params` i32 parameters and `results` (0 or 1) i32 results. */
export interface FunctionImport { module: string; name: string; params: number; results: 0 | 1; }
export interface GlobalImport { module: string; name: string; }

/**
 * A module of i32 functions: imports (shared memory `env.memory`, functions of i32 parameters
 * and results, mutable i32 globals), then its own functions, each (i32, i32) -> i32 with some
 * i32 locals, exported by name.
 */
export function writeModule(
  functionImports: readonly FunctionImport[],
  globalImports: readonly GlobalImport[],
  functions: readonly { name: string; locals: number; body: CodeWriter }[],
): Uint8Array<ArrayBuffer> {
  // One type per shape (parameter and result counts); the module's own functions are (i32, i32) -> i32.
  const shapes = [...new Set(["2:1", ...functionImports.map((f) => `${f.params}:${f.results}`)])];
  const typeOf = (params: number, results: number) => shapes.indexOf(`${params}:${results}`);
  const types = new ByteWriter().u32(shapes.length);
  for (const shape of shapes) {
    const [params, results] = shape.split(":").map(Number);
    types.byte(0x60).u32(params);
    for (let i = 0; i < params; i++) types.byte(I32);
    types.u32(results);
    for (let i = 0; i < results; i++) types.byte(I32);
  }
  const imports = new ByteWriter().u32(1 + functionImports.length + globalImports.length);
  imports.name("env").name("memory").byte(0x02).byte(0x03).u32(0).u32(65536); // shared, min 0, max 65536 pages
  for (const f of functionImports) imports.name(f.module).name(f.name).byte(0x00).u32(typeOf(f.params, f.results));
  for (const g of globalImports) imports.name(g.module).name(g.name).byte(0x03).byte(I32).byte(0x01);
  const declared = new ByteWriter().u32(functions.length);
  for (let i = 0; i < functions.length; i++) declared.u32(typeOf(2, 1));
  const exports = new ByteWriter().u32(functions.length);
  functions.forEach((f, i) => exports.name(f.name).byte(0x00).u32(functionImports.length + i));
  const code = new ByteWriter().u32(functions.length);
  for (const f of functions) {
    const body = new ByteWriter().u32(f.locals > 0 ? 1 : 0);
    if (f.locals > 0) body.u32(f.locals).byte(I32);
    body.append(f.body).byte(Op.end);
    code.u32(body.length).append(body);
  }
  const module = new ByteWriter().byte(0x00).byte(0x61).byte(0x73).byte(0x6d).byte(1).byte(0).byte(0).byte(0);
  for (const [id, section] of [[1, types], [2, imports], [3, declared], [7, exports], [10, code]] as const) {
    module.byte(id).u32(section.length).append(section);
  }
  return module.bytes();
}
