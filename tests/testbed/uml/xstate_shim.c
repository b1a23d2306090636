/*
 * LD_PRELOAD shim for Debian's linux.uml (6.1) on hosts whose XSAVE area is
 * larger than UML's buffer (AVX-512 + AMX, ~11 KiB).
 *
 * The host kernel accepts PTRACE_SETREGSET(NT_X86_XSTATE) only with a buffer
 * of exactly its own XSAVE size and answers EFAULT otherwise, so UML 6.1
 * panics at the first guest process ("ptrace set fp regs failed, errno = 14").
 * Newer UML kernels size the buffer from the host; this shim does the same
 * for the packaged one: it pads the buffer to the host's size and clears the
 * header bits of components that UML's shorter buffer never held, so they are
 * set to their init state. Every other ptrace call passes through untouched.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <dlfcn.h>
#include <elf.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>

#define XSTATE_HEADER_OFFSET 512
#define XSTATE_SCAN_LEN 65536

typedef long (*ptrace_fn)(int, pid_t, void *, void *);

static long real_ptrace(int req, pid_t pid, void *addr, void *data)
{
	static ptrace_fn next;
	if (!next)
		next = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");
	return next(req, pid, addr, data);
}

/* The host's XSAVE size as ptrace reports it: a GETREGSET with a large buffer. */
static size_t host_xstate_len(pid_t pid)
{
	static size_t len;
	if (!len) {
		void *buf = calloc(1, XSTATE_SCAN_LEN);
		struct iovec iov = { buf, XSTATE_SCAN_LEN };
		if (buf && real_ptrace(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &iov) == 0)
			len = iov.iov_len;
		free(buf);
	}
	return len;
}

/* Clear xstate_bv bits of components that end beyond the caller's buffer. */
static void mask_missing_components(unsigned char *buf, size_t have)
{
	uint64_t bv;
	memcpy(&bv, buf + XSTATE_HEADER_OFFSET, sizeof bv);
	for (unsigned i = 2; i < 64; i++) {
		unsigned eax, ebx, ecx, edx;
		if (!(bv & (1ULL << i)))
			continue;
		__cpuid_count(0xd, i, eax, ebx, ecx, edx);
		if (eax == 0 || (size_t)ebx + eax > have)
			bv &= ~(1ULL << i);
	}
	memcpy(buf + XSTATE_HEADER_OFFSET, &bv, sizeof bv);
}

long ptrace(enum __ptrace_request req, ...)
{
	va_list ap;
	va_start(ap, req);
	pid_t pid = va_arg(ap, pid_t);
	void *addr = va_arg(ap, void *);
	void *data = va_arg(ap, void *);
	va_end(ap);

	if (req == PTRACE_SETREGSET && (uintptr_t)addr == NT_X86_XSTATE && data) {
		struct iovec *iov = data;
		size_t want = host_xstate_len(pid);
		if (want > iov->iov_len && iov->iov_len > XSTATE_HEADER_OFFSET + 8) {
			unsigned char *big = calloc(1, want);
			if (big) {
				memcpy(big, iov->iov_base, iov->iov_len);
				mask_missing_components(big, iov->iov_len);
				struct iovec padded = { big, want };
				long r = real_ptrace(req, pid, addr, &padded);
				free(big);
				return r;
			}
		}
	}
	return real_ptrace(req, pid, addr, data);
}
