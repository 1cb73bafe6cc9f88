/**
 * Address kinds as distinct types, so an API that takes a guest physical address cannot be
 * handed a port number or an offset by mistake. They are plain numbers at run time.
 */
declare const brand: unique symbol;
type Branded<T, B extends string> = T & { readonly [brand]: B };

/** A guest physical address. */
export type Gpa = Branded<number, "Gpa">;
/** An x86 I/O port number (0..0xffff). */
export type Port = Branded<number, "Port">;
/** A byte offset into the VM's guest RAM (the backing of RAM and ROM regions). */
export type RamOffset = Branded<number, "RamOffset">;

export const gpa = (value: number): Gpa => value as Gpa;
export const port = (value: number): Port => value as Port;
export const ramOffset = (value: number): RamOffset => value as RamOffset;
