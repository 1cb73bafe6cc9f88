// Entry, system call glue and the runner-independent half of the case switch of the native
// runners (see runtime.h). Built with gcc -m32: i386 Linux, `int $0x80` system calls, cdecl.
// A runner's runner.S supplies case_load (state in, then `jmp *code_entry`) and case_return
// (the code page's end: state out, then `jmp case_finish` with the flat DS and ES).

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

// int case_enter(void): saves the callee-saved registers and ESP (runner_esp) and goes on in
// the runner's case_load. Returns 0 through case_finish when the case reaches its end, or 1
// through case_recover when the fault handler cut it short.
	.globl case_enter
case_enter:
	push %ebp
	push %ebx
	push %esi
	push %edi
	mov %esp, runner_esp
	jmp case_load

// The runner's case_return jumps here once it has stored the case's state and DS and ES are
// flat again.
	.globl case_finish
case_finish:
	cld
	mov runner_esp, %esp
	xor %eax, %eax
	jmp 1f

// The fault handler resumes here with flat DS and ES, DF clear and ESP = runner_esp.
	.globl case_recover
case_recover:
	mov $1, %eax
1:	pop %edi
	pop %esi
	pop %ebx
	pop %ebp
	ret

	.section .note.GNU-stack, "", @progbits
