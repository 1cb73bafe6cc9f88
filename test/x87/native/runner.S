// Entry, case switch and system call glue of the x87 native runner (see runner.c). Built with
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

// int x87_enter(void): initializes the FPU (FNINIT does not wait, so a pending exception the
// previous case left cannot trap here), loads EFLAGS and EAX, and jumps to the code page, which
// starts with the case's FRSTOR. Returns 0 through x87_return when the code page ends, or 1
// through x87_recover when the fault handler cut the case short.
	.globl x87_enter
x87_enter:
	push %ebp
	push %ebx
	push %esi
	push %edi
	mov %esp, runner_esp
	fninit
	pushl in_eflags
	popfl
	mov in_eax, %eax
	jmp *code_entry

// The code page ends with a jump here, after its FNSAVE.
	.globl x87_return
x87_return:
	pushfl
	popl out_eflags
	mov %eax, out_eax
	cld
	mov runner_esp, %esp
	xor %eax, %eax
	jmp 1f

// The fault handler resumes here with DF clear and ESP = runner_esp.
	.globl x87_recover
x87_recover:
	mov $1, %eax
1:	pop %edi
	pop %esi
	pop %ebx
	pop %ebp
	ret

	.section .note.GNU-stack, "", @progbits
