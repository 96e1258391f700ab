/* Symbolization for the crash report. Reading DWARF is not async-signal-safe, so the
 * table is built once at start-up (inferd_symbols_load, with libdw): every function symbol
 * of the inferd executable, every row of its DWARF line table, and the address range of
 * every loaded module. In a signal handler, inferd_symbols_lookup only binary-searches
 * these arrays: no allocation, no lock, no I/O. Frames in shared libraries are named as
 * module+offset, which addr2line resolves offline. */
#ifndef INFERD_DIAG_SYMBOLS_H
#define INFERD_DIAG_SYMBOLS_H

#include <stdbool.h>
#include <stdint.h>

/* Builds the table; later calls do nothing. Failures (no debug info, stripped binary)
 * leave a partial table and are not errors: frames are then printed as addresses. Thread:
 * the main thread at start-up. Never freed (the crash handler may need it at any time). */
void inferd_symbols_load(void);

/* What is known about one code address. Strings point into the table. */
typedef struct inferd_symbol {
    const char *function; /* NULL when unknown */
    uintptr_t function_offset;
    const char *file; /* NULL when there is no line information */
    int line;
    const char *module; /* "inferd" for the executable, else the library path; or NULL */
    uintptr_t module_offset;
} inferd_symbol_t;

/* Looks pc up (pass a return address minus one for caller frames). Returns false when pc
 * is in no known module. Async-signal-safe. */
bool inferd_symbols_lookup(uintptr_t pc, inferd_symbol_t *out);

#endif
