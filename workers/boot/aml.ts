/**
 * Just enough ACPI Machine Language to write a static DSDT (ACPI 6.4 chapter 20: named objects,
 * scopes, devices, packages, integers, buffers) and the resource descriptors a _CRS buffer holds
 * (chapter 6.4). Every function returns the encoded bytes; nothing here evaluates AML.
 */

export type Aml = number[];

const NAME_OP = 0x08;
const STRING_PREFIX = 0x0d;
const SCOPE_OP = 0x10;
const BUFFER_OP = 0x11;
const PACKAGE_OP = 0x12;
const EXT_OP_PREFIX = 0x5b;
const DEVICE_OP = 0x82;
const ROOT_CHAR = 0x5c;

/** PkgLength (20.2.4): the length of what follows the opcode, counting the PkgLength bytes themselves. */
export function pkgLength(contentBytes: number): Aml {
  if (contentBytes + 1 < 0x40) return [contentBytes + 1];
  for (let extra = 1; extra <= 3; extra++) {
    const total = contentBytes + 1 + extra;
    if (total < 2 ** (4 + 8 * extra)) {
      const bytes = [(extra << 6) | (total & 0x0f)];
      for (let i = 0; i < extra; i++) bytes.push((total >>> (4 + 8 * i)) & 0xff);
      return bytes;
    }
  }
  throw new RangeError(`an AML package of ${contentBytes} bytes is too long`);
}

/** A NameString of one or more 4-character segments, optionally rooted: "\\_SB_", "PCI0", "_S5". */
export function nameString(path: string): Aml {
  const rooted = path.startsWith("\\");
  const segments = (rooted ? path.slice(1) : path).split(".");
  if (segments.length > 2) throw new RangeError(`name path "${path}" has more than two segments`);
  const bytes = rooted ? [ROOT_CHAR] : [];
  if (segments.length === 2) bytes.push(0x2e); // DualNamePrefix
  for (const segment of segments) {
    if (!/^[A-Z_][A-Z0-9_]{0,3}$/.test(segment)) throw new RangeError(`"${segment}" is not an ACPI name segment`);
    for (const char of segment.padEnd(4, "_")) bytes.push(char.charCodeAt(0));
  }
  return bytes;
}

/** The shortest integer encoding (ZeroOp, OneOp, Byte/Word/DWordConst). */
export function integer(value: number): Aml {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`AML integer ${value} is not a 32-bit unsigned value`);
  if (value === 0) return [0x00];
  if (value === 1) return [0x01];
  if (value <= 0xff) return [0x0a, value];
  if (value <= 0xffff) return [0x0b, ...le(value, 2)];
  return [0x0c, ...le(value, 4)];
}

/** Name(name, object). */
export function name(path: string, object: Aml): Aml {
  return [NAME_OP, ...nameString(path), ...object];
}

/** Scope(path) { terms }. */
export function scope(path: string, terms: Aml[]): Aml {
  const body = [...nameString(path), ...terms.flat()];
  return [SCOPE_OP, ...pkgLength(body.length), ...body];
}

/** Device(name) { terms }. */
export function device(path: string, terms: Aml[]): Aml {
  const body = [...nameString(path), ...terms.flat()];
  return [EXT_OP_PREFIX, DEVICE_OP, ...pkgLength(body.length), ...body];
}

/** A string constant, "text": StringPrefix, ASCII, a NUL (20.2.3). */
export function string(text: string): Aml {
  if (!/^[\x01-\x7f]*$/.test(text)) throw new RangeError(`AML strings are ASCII without NUL, not "${text}"`);
  return [STRING_PREFIX, ...[...text].map((char) => char.charCodeAt(0)), 0x00];
}

/** Package() { elements }. */
export function pkg(elements: Aml[]): Aml {
  if (elements.length > 0xff) throw new RangeError("a Package holds at most 255 elements");
  const body = [elements.length, ...elements.flat()];
  return [PACKAGE_OP, ...pkgLength(body.length), ...body];
}

/** Buffer() { bytes }. */
export function buffer(bytes: Aml): Aml {
  const body = [...integer(bytes.length), ...bytes];
  return [BUFFER_OP, ...pkgLength(body.length), ...body];
}

/** EisaId("PNP0A03"): three letters in 5-bit fields and four hex digits, stored big-endian (19.3.4). */
export function eisaId(id: string): Aml {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) throw new RangeError(`"${id}" is not an EISA ID`);
  const letters = [0, 1, 2].map((i) => id.charCodeAt(i) - 0x40);
  const vendor = (letters[0] << 10) | (letters[1] << 5) | letters[2];
  const product = parseInt(id.slice(3), 16);
  return integer(((vendor >> 8) | ((vendor & 0xff) << 8) | ((product >> 8) << 16) | ((product & 0xff) << 24)) >>> 0);
}

/** ResourceTemplate() { descriptors }: a buffer closed by the End Tag (6.4.2.9, checksum 0 = none). */
export function resourceTemplate(descriptors: Aml[]): Aml {
  return buffer([...descriptors.flat(), 0x79, 0x00]);
}

/** IO(Decode16, min, max, alignment, length) (6.4.2.5). */
export function ioPorts(min: number, max: number, alignment: number, length: number): Aml {
  return [0x47, 0x01, ...le(min, 2), ...le(max, 2), alignment, length];
}

/** Address space resource types (6.4.3.5). */
const ADDRESS_MEMORY = 0;
const ADDRESS_IO = 1;
const ADDRESS_BUS = 2;
/** General flags of a producer window with fixed bounds and positive decode: _MAF and _MIF set. */
const FIXED_WINDOW = 0x0c;
const IO_ENTIRE_RANGE = 0x03;
const MEMORY_READ_WRITE_NON_CACHEABLE = 0x01;

/** WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, ...) (6.4.3.5.3). */
export function wordBusNumber(min: number, max: number): Aml {
  return wordAddress(ADDRESS_BUS, 0, min, max);
}

/** WordIO(ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, ...) (6.4.3.5.3). */
export function wordIo(min: number, max: number): Aml {
  return wordAddress(ADDRESS_IO, IO_ENTIRE_RANGE, min, max);
}

/** DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, ...) (6.4.3.5.2). */
export function dwordMemory(min: number, max: number): Aml {
  return [0x87, ...le(23, 2), ADDRESS_MEMORY, FIXED_WINDOW, MEMORY_READ_WRITE_NON_CACHEABLE, ...le(0, 4), ...le(min, 4), ...le(max, 4), ...le(0, 4), ...le(max - min + 1, 4)];
}

function wordAddress(type: number, typeFlags: number, min: number, max: number): Aml {
  return [0x88, ...le(13, 2), type, FIXED_WINDOW, typeFlags, ...le(0, 2), ...le(min, 2), ...le(max, 2), ...le(0, 2), ...le(max - min + 1, 2)];
}

function le(value: number, bytes: number): Aml {
  return Array.from({ length: bytes }, (_, i) => (value >>> (8 * i)) & 0xff);
}
