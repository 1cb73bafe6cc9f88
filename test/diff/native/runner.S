// Entry, case switch and system call glue of the native runner (see runner.c). Built with
// gcc -m32: i386 Linux, `int $0x80` system calls, cdecl.

	.text

	.globl _start
_start:
	xor %ebp, %ebp
	call runner_main
	hlt

// long linux_syscall(long nr, long a1, ..., long a6): EAX, then EBX ECX EDX ESI EDI EBP.
	.globl linux_syscall
linux_syscall:
	push %ebp
	push %edi
	push %esi
	push %ebx
	mov 20(%esp), %eax
	mov 24(%esp), %ebx
	mov 28(%esp), %ecx
	mov 32(%esp), %edx
	mov 36(%esp), %esi
	mov 40(%esp), %edi
	mov 44(%esp), %ebp
	int $0x80
	pop %ebx
	pop %esi
	pop %edi
	pop %ebp
	ret

// rt_sigreturn trampoline the kernel returns to after a handler (SA_RESTORER).
	.globl signal_restorer
signal_restorer:
	mov $173, %eax
	int $0x80

// memcpy and memset, which gcc may call even with -ffreestanding.
	.globl memcpy
memcpy:
	push %esi
	push %edi
	mov 12(%esp), %edi
	mov 16(%esp), %esi
	mov 20(%esp), %ecx
	mov %edi, %eax
	rep movsb
	pop %edi
	pop %esi
	ret

	.globl memset
memset:
	push %edi
	mov 8(%esp), %edi
	movzbl 12(%esp), %eax
	mov 16(%esp), %ecx
	mov 8(%esp), %edx
	rep stosb
	mov %edx, %eax
	pop %edi
	ret

// int diff_enter(void): loads the case's segments, EFLAGS and registers (ESP last) and jumps to
// the code page. Returns 0 through diff_save when the case reaches its end, or 1 through
// diff_recover when the fault handler cut it short. Once DS may select the DATA segment, the
// runner's variables are reached through SS, which cases never change.
	.globl diff_enter
diff_enter:
	push %ebp
	push %ebx
	push %esi
	push %edi
	mov %esp, runner_esp
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

// The code page ends with a jump here: ESP is saved before anything touches the stack, then
// EFLAGS through the private stack, then the other registers.
	.globl diff_save
diff_save:
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
	cld
	mov runner_esp, %esp
	xor %eax, %eax
	jmp 1f

// The fault handler resumes here with flat DS and ES, DF clear and ESP = runner_esp.
	.globl diff_recover
diff_recover:
	mov $1, %eax
1:	pop %edi
	pop %esi
	pop %ebx
	pop %ebp
	ret

	.bss
	.align 16
	.space 256
private_stack_top:

	.section .note.GNU-stack, "", @progbits
