/*
 * LD_PRELOAD shim that turns on glibc's malloc tracing at load time, so any program can be recorded
 * without recompiling it. Since glibc 2.34 the tracer lives in libc_malloc_debug.so (preload it
 * before this shim); mtrace() reads the output path from MALLOC_TRACE (malloc/mtrace.c).
 * Build: gcc -shared -fPIC -O2 -o mtrace-shim.so mtrace-shim.c
 */
#include <mcheck.h>

__attribute__((constructor)) static void allocbench_mtrace_on(void) { mtrace(); }
