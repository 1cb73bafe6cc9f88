// The x87 test's half of the case switch (see runner.c; the rest is in
// test/native/runtime.S). Built with gcc -m32: i386 Linux, cdecl.

	.text

// Entered from case_enter: initializes the FPU (FNINIT does not wait, so a pending exception
// the previous case left cannot trap here), loads EFLAGS and EAX, and jumps to the code page,
// which starts with the case's FRSTOR.
	.globl case_load
case_load:
	fninit
	pushl in_eflags
	popfl
	mov in_eax, %eax
	jmp *code_entry

// The code page ends with a jump here, after its FNSAVE.
	.globl case_return
case_return:
	pushfl
	popl out_eflags
	mov %eax, out_eax
	jmp case_finish

	.section .note.GNU-stack, "", @progbits
