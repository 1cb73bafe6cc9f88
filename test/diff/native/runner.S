// The differential test's half of the case switch (see runner.c; the rest is in
// test/native/runtime.S). Built with gcc -m32: i386 Linux, cdecl.

	.text

// Entered from case_enter: loads the case's segments, EFLAGS and registers (ESP last) and
// jumps to the code page. Once DS may select the DATA segment, the runner's variables are
// reached through SS, which cases never change.
	.globl case_load
case_load:
	mov in_es, %eax
	mov %ax, %es
	mov in_ds, %eax
	mov %ax, %ds
	mov $private_stack_top, %esp
	pushl %ss:in_eflags
	popfl
	mov %ss:in_regs+0, %eax
	mov %ss:in_regs+4, %ecx
	mov %ss:in_regs+8, %edx
	mov %ss:in_regs+12, %ebx
	mov %ss:in_regs+20, %ebp
	mov %ss:in_regs+24, %esi
	mov %ss:in_regs+28, %edi
	mov %ss:in_regs+16, %esp
	jmp *%ss:code_entry

// code_entry of a CODE16 case: the far jump into the 16-bit code segment (far16 holds offset 0
// and its selector). Nothing here touches the registers or EFLAGS case_load loaded.
	.globl case_enter16
case_enter16:
	ljmp *%ss:far16

// The code page ends with a jump here (a far jump from 16-bit code): ESP is saved before
// anything touches the stack, then EFLAGS through the private stack, then the other registers.
	.globl case_return
case_return:
	mov %esp, %ss:out_regs+16
	mov $private_stack_top, %esp
	pushfl
	popl %ss:out_eflags
	mov %eax, %ss:out_regs+0
	mov %ecx, %ss:out_regs+4
	mov %edx, %ss:out_regs+8
	mov %ebx, %ss:out_regs+12
	mov %ebp, %ss:out_regs+20
	mov %esi, %ss:out_regs+24
	mov %edi, %ss:out_regs+28
	mov %ss:flat_ds, %eax
	mov %ax, %ds
	mov %ax, %es
	jmp case_finish

	.bss
	.align 16
	.space 256
private_stack_top:

	.section .note.GNU-stack, "", @progbits
