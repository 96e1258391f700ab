/* A growable byte buffer for building responses and messages. Appends never fail for the
 * caller: a buffer that cannot grow (allocation failure or over its limit) records the
 * failure in `failed` and drops further writes, and the caller checks once at the end. */
#ifndef INFERD_CORE_BUF_H
#define INFERD_CORE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct inferd_buf {
    char *data; /* NUL-terminated while len < cap */
    size_t len;
    size_t cap;
    size_t limit; /* 0 = no limit */
    bool failed;  /* an append did not fit */
} inferd_buf_t;

void inferd_buf_init(inferd_buf_t *b, size_t limit);
void inferd_buf_deinit(inferd_buf_t *b);
void inferd_buf_reset(inferd_buf_t *b);

/* Ensures room for n more bytes; false (and failed set) if it cannot. */
bool inferd_buf_reserve(inferd_buf_t *b, size_t n);

void inferd_buf_append(inferd_buf_t *b, const void *data, size_t n);
void inferd_buf_append_str(inferd_buf_t *b, const char *s);
void inferd_buf_append_char(inferd_buf_t *b, char c);
void inferd_buf_printf(inferd_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s (n bytes) as a JSON string literal with quotes and escapes. */
void inferd_buf_append_json_str(inferd_buf_t *b, const char *s, size_t n);

/* Takes the data out of the buffer; the caller frees it with inferd_free. *len gets the
 * length. The buffer is left empty. */
char *inferd_buf_steal(inferd_buf_t *b, size_t *len);

#endif
