/**
 * The first guest: 32-bit code that writes "hello\r\n" to COM1's transmitter holding register
 * (port 0x3F8, COM1_PORT in workers/pc-board.ts) one OUT at a time and stops with HLT. It does
 * not poll LSR.THRE between bytes, which on real hardware would overrun the one-byte THR: the
 * core has no conditional jumps yet, and the UART model's transmitter is never busy. Runs as
 * 32-bit code (CS.D = 1) at any address: it has no absolute references.
 */
export const HELLO_GUEST: Uint8Array = Uint8Array.of(
  0xba, 0xf8, 0x03, 0x00, 0x00, // mov edx, 0x3f8   ; COM1 THR
  0xb0, 0x68, //                   mov al, 'h'
  0xee, //                         out dx, al
  0xb0, 0x65, //                   mov al, 'e'
  0xee, //                         out dx, al
  0xb0, 0x6c, //                   mov al, 'l'
  0xee, //                         out dx, al
  0xb0, 0x6c, //                   mov al, 'l'
  0xee, //                         out dx, al
  0xb0, 0x6f, //                   mov al, 'o'
  0xee, //                         out dx, al
  0xb0, 0x0d, //                   mov al, '\r'
  0xee, //                         out dx, al
  0xb0, 0x0a, //                   mov al, '\n'
  0xee, //                         out dx, al
  0xf4, //                         hlt
);
