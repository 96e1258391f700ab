/* Growable byte buffer (see buf.h). */
#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

void inferd_buf_init(inferd_buf_t *b, size_t limit)
{
    memset(b, 0, sizeof(*b));
    b->limit = limit;
}

void inferd_buf_deinit(inferd_buf_t *b)
{
    inferd_free(b->data);
    memset(b, 0, sizeof(*b));
}

void inferd_buf_reset(inferd_buf_t *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data)
        b->data[0] = '\0';
}

bool inferd_buf_reserve(inferd_buf_t *b, size_t n)
{
    if (b->failed)
        return false;
    if (n > SIZE_MAX - b->len - 1 || (b->limit && b->len + n > b->limit)) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return true;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    char *p = inferd_realloc(b->data, ncap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = ncap;
    return true;
}

void inferd_buf_append(inferd_buf_t *b, const void *data, size_t n)
{
    if (!inferd_buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void inferd_buf_append_str(inferd_buf_t *b, const char *s)
{
    inferd_buf_append(b, s, strlen(s));
}

void inferd_buf_append_char(inferd_buf_t *b, char c)
{
    inferd_buf_append(b, &c, 1);
}

void inferd_buf_printf(inferd_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        inferd_buf_append(b, small, (size_t)n);
        return;
    }
    if (!inferd_buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void inferd_buf_append_json_str(inferd_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    inferd_buf_append_char(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        inferd_buf_append(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': inferd_buf_append(b, "\\\"", 2); break;
        case '\\': inferd_buf_append(b, "\\\\", 2); break;
        case '\n': inferd_buf_append(b, "\\n", 2); break;
        case '\r': inferd_buf_append(b, "\\r", 2); break;
        case '\t': inferd_buf_append(b, "\\t", 2); break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            inferd_buf_append(b, esc, 6);
        }
        }
    }
    inferd_buf_append(b, s + run, n - run);
    inferd_buf_append_char(b, '"');
}

char *inferd_buf_steal(inferd_buf_t *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    if (!p)
        p = inferd_xcalloc(1, 1);
    memset(b, 0, sizeof(*b));
    return p;
}
