/* The JSON parser and number text helpers behind core/json.h.
 *
 * Parsing copies the input once into the document's arena and works on that copy: string
 * values are unescaped in place (an escape never grows), number nodes point at their lexeme
 * inside it, and the copy ends in a NUL sentinel so the scanner needs no bounds check before
 * each byte. The parser is iterative (an explicit frame stack), so document depth never
 * touches the C stack; children are gathered on scratch stacks and copied into the arena
 * when their container closes. Nodes come from big arena chunks, never one malloc each.
 *
 * Numbers: conversions work from the lexeme. Integers are exact (no double on the way).
 * Doubles and floats read a short lexeme (at most 19 digits) in one pass and take a fast path
 * whose result is provably the correctly rounded one: Clinger's (mantissa <= 2^53, power of
 * ten <= 22), and for floats a division-free product, or up to 19 digits, checked against
 * float rounding boundaries with a margin for its error. Anything else calls strtod_l/strtof_l with
 * a "C" locale created once, so a process locale with a decimal comma never changes what a number
 * means. Arrays of numbers (tensor data) are parsed in a tight loop and converted in one call per
 * array. Printing is the inverse: the fewest significant digits that read back exactly, found by
 * interval arithmetic on the value's neighbours for the common ranges (floats in ~[1e-13, 1e32),
 * doubles in [1e-10, 1e18)) and by formatting and reading back, in the C locale, elsewhere. */
#include "core/json.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"

const inferd_json_limits_t inferd_json_default_limits = {
    .max_depth = 100,
    .max_nodes = (size_t)64 << 20,
};

/* ------------------------------------------------------------------------------------ */
/* Arena                                                                                */

#define ARENA_MIN_CHUNK ((size_t)16 << 10)
#define ARENA_MAX_CHUNK ((size_t)64 << 20)

typedef struct arena_chunk {
    struct arena_chunk *next;
    alignas(max_align_t) unsigned char data[];
} arena_chunk_t;

struct inferd_json_doc {
    inferd_json_t *root;
    arena_chunk_t *chunks; /* newest first */
    unsigned char *cur;    /* bump pointer into the newest chunk */
    size_t avail;          /* bytes left after cur */
    size_t next_chunk;     /* size of the next chunk; doubles up to ARENA_MAX_CHUNK */
};

/* Opens a chunk of at least n bytes and makes it current. */
static bool arena_grow(inferd_json_doc_t *doc, size_t n)
{
    size_t size = doc->next_chunk;
    if (size < n)
        size = n;
    if (size > SIZE_MAX - sizeof(arena_chunk_t))
        return false;
    arena_chunk_t *c = inferd_malloc(sizeof(arena_chunk_t) + size);
    if (!c)
        return false;
    c->next = doc->chunks;
    doc->chunks = c;
    doc->cur = c->data;
    doc->avail = size;
    if (doc->next_chunk < ARENA_MAX_CHUNK)
        doc->next_chunk *= 2;
    return true;
}

/* Bump allocation, 8-byte aligned; the fast path is a compare and an add. */
static inline void *arena_alloc(inferd_json_doc_t *doc, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (doc->avail < n && !arena_grow(doc, n))
        return NULL;
    void *p = doc->cur;
    doc->cur += n;
    doc->avail -= n;
    return p;
}

void *inferd_json_doc_alloc(inferd_json_doc_t *doc, size_t n)
{
    const size_t align = alignof(max_align_t);
    size_t pad = (size_t)(-(uintptr_t)doc->cur & (align - 1));
    if (n > SIZE_MAX - align)
        return NULL;
    if (doc->avail < pad + n) {
        /* A fresh chunk starts max-aligned, so no padding is needed there. */
        if (!arena_grow(doc, n))
            return NULL;
        pad = 0;
    }
    unsigned char *p = doc->cur + pad;
    doc->cur = p + n;
    doc->avail -= pad + n;
    memset(p, 0, n);
    return p;
}

static inferd_json_doc_t *doc_create(size_t text_len)
{
    inferd_json_doc_t *doc = inferd_calloc(1, sizeof(*doc));
    if (!doc)
        return NULL;
    /* Size the first node chunk after the text: a document of numbers needs a few times
     * its own size in nodes and item arrays. */
    size_t first = text_len;
    if (first < ARENA_MIN_CHUNK)
        first = ARENA_MIN_CHUNK;
    if (first > ARENA_MAX_CHUNK / 2)
        first = ARENA_MAX_CHUNK / 2;
    doc->next_chunk = first;
    return doc;
}

void inferd_json_doc_destroy(inferd_json_doc_t *doc)
{
    if (!doc)
        return;
    arena_chunk_t *c = doc->chunks;
    while (c) {
        arena_chunk_t *next = c->next;
        inferd_free(c);
        c = next;
    }
    inferd_free(doc);
}

inferd_json_t *inferd_json_root(const inferd_json_doc_t *doc)
{
    return doc ? doc->root : NULL;
}

/* ------------------------------------------------------------------------------------ */
/* "C" locale for strtod_l/strtof_l and number printing                                  */

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (!c_locale) {
        /* Without it, number text could depend on the process locale. */
        fprintf(stderr, "inferd: cannot create the C locale\n");
        abort();
    }
}

static locale_t get_c_locale(void)
{
    pthread_once(&c_locale_once, c_locale_init);
    return c_locale;
}

/* ------------------------------------------------------------------------------------ */
/* Parser                                                                               */

typedef struct {
    const char *ptr;
    size_t len;
    size_t off; /* byte offset of the key's opening quote, for errors */
} key_ent_t;

typedef struct {
    inferd_json_t *node;
    size_t vals_base; /* where this container's children start on the value stack */
    size_t keys_base;
} frame_t;

typedef struct {
    const char *base; /* start of the copy: error offsets are relative to it */
    char *p;
    const char *end; /* *end == '\0', the sentinel */
    inferd_json_doc_t *doc;
    inferd_err_t *err;
    size_t max_depth;
    size_t max_nodes;
    size_t nodes;
    inferd_json_t **vals;
    size_t nvals, cap_vals;
    key_ent_t *keys;
    size_t nkeys, cap_keys;
    frame_t *frames;
    size_t depth, cap_frames;
    key_ent_t *sort_tmp; /* scratch for duplicate-key checks of big objects */
    size_t cap_sort;
} parser_t;

/* 1 for bytes that a string may hold unescaped with no further check (printable ASCII other
 * than '"' and '\\', and DEL). */
static const unsigned char plain_char[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static inline size_t off_of(const parser_t *ps, const char *at)
{
    return (size_t)(at - ps->base);
}

static inferd_status_t syntax_error(parser_t *ps, const char *at, const char *reason)
{
    return inferd_err_set(ps->err, INFERD_E_INVALID_ARG, "invalid JSON at offset %zu: %s",
                          off_of(ps, at), reason);
}

static inferd_status_t unexpected(parser_t *ps, const char *at)
{
    unsigned char c = (unsigned char)*at;
    if (at >= ps->end)
        return syntax_error(ps, at, "unexpected end of input");
    if (c > 0x20 && c < 0x7f)
        return inferd_err_set(ps->err, INFERD_E_INVALID_ARG,
                              "invalid JSON at offset %zu: unexpected character '%c'",
                              off_of(ps, at), c);
    return inferd_err_set(ps->err, INFERD_E_INVALID_ARG,
                          "invalid JSON at offset %zu: unexpected byte 0x%02x", off_of(ps, at), c);
}

static inferd_status_t oom(parser_t *ps)
{
    return inferd_err_set(ps->err, INFERD_E_RESOURCE_EXHAUSTED,
                          "out of memory while parsing JSON at offset %zu", off_of(ps, ps->p));
}

static inline void skip_ws(parser_t *ps)
{
    char *p = ps->p;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    ps->p = p;
}

static bool grow_stack(void **arr, size_t *cap, size_t elem, size_t need)
{
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elem)
            return false;
        ncap *= 2;
    }
    void *p = inferd_realloc(*arr, ncap * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = ncap;
    return true;
}

static inline bool push_val(parser_t *ps, inferd_json_t *v)
{
    if (ps->nvals == ps->cap_vals &&
        !grow_stack((void **)&ps->vals, &ps->cap_vals, sizeof(*ps->vals), ps->nvals + 1))
        return false;
    ps->vals[ps->nvals++] = v;
    return true;
}

static inline inferd_json_t *new_node(parser_t *ps, inferd_json_type_t type, inferd_status_t *st)
{
    if (ps->nodes >= ps->max_nodes) {
        *st = inferd_err_set(ps->err, INFERD_E_TOO_LARGE,
                             "JSON document has more than %zu values (max_nodes limit) at "
                             "offset %zu",
                             ps->max_nodes, off_of(ps, ps->p));
        return NULL;
    }
    inferd_json_t *n = arena_alloc(ps->doc, sizeof(*n));
    if (!n) {
        *st = oom(ps);
        return NULL;
    }
    ps->nodes++;
    n->type = type;
    return n;
}

static inline void put_utf8(char **w, uint32_t cp)
{
    unsigned char *o = (unsigned char *)*w;
    if (cp < 0x80) {
        *o++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *o++ = (unsigned char)(0xc0 | (cp >> 6));
        *o++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (unsigned char)(0xe0 | (cp >> 12));
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (unsigned char)(0xf0 | (cp >> 18));
        *o++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (unsigned char)(0x80 | (cp & 0x3f));
    }
    *w = (char *)o;
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits after "\u" at p (p points at the 'u'). The NUL sentinel stops it
 * at the end of input. */
static bool read_hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 1; i <= 4; i++) {
        int h = hex_val(p[i]);
        if (h < 0)
            return false;
        v = v << 4 | (uint32_t)h;
    }
    *out = v;
    return true;
}

/* Length of the valid UTF-8 sequence starting at p (a byte >= 0x80), or 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF (RFC 3629). */
static inline size_t utf8_seq_len(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c >= 0xc2 && c <= 0xdf)
        return (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;
        unsigned char hi = c == 0xed ? 0x9f : 0xbf;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80)
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned char lo = c == 0xf0 ? 0x90 : 0x80;
        unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

/* Parses the string whose opening quote is at ps->p, unescaping it in place in the copy.
 * On success *out and *out_len hold the NUL-terminated result and ps->p is past the closing
 * quote. */
static inferd_status_t parse_string(parser_t *ps, const char **out, size_t *out_len)
{
    char *start = ps->p + 1;
    char *r = start;
    /* Most strings have no escapes and are ASCII: scan without writing. */
    while (plain_char[(unsigned char)*r])
        r++;
    char *w = r;
    for (;;) {
        unsigned char c = (unsigned char)*r;
        if (plain_char[c]) {
            *w++ = (char)c;
            r++;
        } else if (c == '"') {
            *w = '\0';
            *out = start;
            *out_len = (size_t)(w - start);
            ps->p = r + 1;
            return INFERD_OK;
        } else if (c == '\\') {
            char e = r[1];
            switch (e) {
            case '"': *w++ = '"'; break;
            case '\\': *w++ = '\\'; break;
            case '/': *w++ = '/'; break;
            case 'b': *w++ = '\b'; break;
            case 'f': *w++ = '\f'; break;
            case 'n': *w++ = '\n'; break;
            case 'r': *w++ = '\r'; break;
            case 't': *w++ = '\t'; break;
            case 'u': {
                uint32_t cp;
                if (!read_hex4(r + 1, &cp))
                    return syntax_error(ps, r, "invalid \\u escape (want 4 hex digits)");
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    return syntax_error(ps, r, "unpaired low surrogate in \\u escape");
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    uint32_t lo;
                    if (r[6] != '\\' || r[7] != 'u' || !read_hex4(r + 7, &lo) || lo < 0xdc00 ||
                        lo > 0xdfff)
                        return syntax_error(ps, r, "unpaired high surrogate in \\u escape");
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    r += 6;
                }
                put_utf8(&w, cp);
                r += 4;
                break;
            }
            default:
                if (r + 1 >= ps->end)
                    return syntax_error(ps, r + 1, "unexpected end of input in a string");
                return syntax_error(ps, r, "invalid escape in a string");
            }
            r += 2;
        } else if (c >= 0x80) {
            size_t n = utf8_seq_len((const unsigned char *)r);
            if (n == 0)
                return syntax_error(ps, r, "invalid UTF-8 in a string");
            memmove(w, r, n);
            w += n;
            r += n;
        } else if (r >= ps->end) {
            return syntax_error(ps, r, "unexpected end of input in a string");
        } else {
            return syntax_error(ps, r, "unescaped control character in a string");
        }
    }
}

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Scans a number lexeme at ps->p (strict RFC 8259 grammar, plus NaN, Infinity and
 * -Infinity) and fills node. */
static inline __attribute__((always_inline)) uint32_t float_bits_of(bool neg, uint64_t m, int e);

/* Scans a number lexeme at ps->p (strict RFC 8259 grammar, plus NaN, Infinity and
 * -Infinity) and fills node. Short lexemes are also converted to float on the way
 * (node->float_bits). */
static inferd_status_t parse_number(parser_t *ps, inferd_json_t *node)
{
    char *s = ps->p;
    char *p = s;
    bool neg = *p == '-';
    uint64_t m = 0; /* the digits, exact while there are at most 19 */
    p += neg;
    char *ds = p;
    if (*p == '0') {
        p++;
        if (is_digit(*p))
            return syntax_error(ps, p, "invalid number (leading zero)");
    } else if (is_digit(*p)) {
        while (is_digit(*p))
            m = m * 10 + (uint64_t)(*p++ - '0');
    } else if (p > s && (size_t)(ps->end - p) >= 8 && memcmp(p, "Infinity", 8) == 0) {
        p += 8;
        node->float_bits = 0;
        goto done;
    } else {
        return syntax_error(ps, p, "invalid number");
    }
    size_t ndig = (size_t)(p - ds);
    int e = 0;
    if (*p == '.') {
        p++;
        if (!is_digit(*p))
            return syntax_error(ps, p, "invalid number (want a digit after '.')");
        char *fs = p;
        while (is_digit(*p))
            m = m * 10 + (uint64_t)(*p++ - '0');
        size_t nfrac = (size_t)(p - fs);
        ndig += nfrac;
        e = nfrac > 19 ? -20 : -(int)nfrac; /* only used with ndig <= 19 */
    }
    bool short_exp = true;
    if (*p == 'e' || *p == 'E') {
        p++;
        bool eneg = *p == '-';
        if (*p == '+' || *p == '-')
            p++;
        if (!is_digit(*p))
            return syntax_error(ps, p, "invalid number (want a digit in the exponent)");
        char *es = p;
        int x = 0;
        while (is_digit(*p)) {
            if (p - es < 5)
                x = x * 10 + (*p - '0');
            p++;
        }
        short_exp = p - es <= 5;
        e += eneg ? -x : x;
    }
    node->float_bits = ndig <= 19 && short_exp ? float_bits_of(neg, m, e) : 0;
done:
    node->u.number.text = s;
    node->u.number.len = (size_t)(p - s);
    ps->p = p;
    return INFERD_OK;
}

static inline bool match_word(const parser_t *ps, const char *p, const char *w, size_t n)
{
    return (size_t)(ps->end - p) >= n && memcmp(p, w, n) == 0;
}

static int key_cmp(const void *a, const void *b)
{
    const key_ent_t *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    int c = memcmp(x->ptr, y->ptr, x->len);
    if (c)
        return c;
    return x->off < y->off ? -1 : x->off > y->off;
}

static inferd_status_t dup_key_error(parser_t *ps, const key_ent_t *k)
{
    int shown = k->len > 64 ? 64 : (int)k->len;
    return inferd_err_set(ps->err, INFERD_E_INVALID_ARG,
                          "invalid JSON at offset %zu: duplicate key '%.*s'%s", k->off, shown,
                          k->ptr, k->len > 64 ? "..." : "");
}

/* Rejects duplicate keys among the n keys at k, naming the first repeat in document order.
 * Small objects compare pairwise; big ones sort a copy, so a hostile object with a million
 * keys costs n log n, not n^2. */
static inferd_status_t check_dup_keys(parser_t *ps, const key_ent_t *k, size_t n)
{
    if (n <= 16) {
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (k[i].len == k[j].len && memcmp(k[i].ptr, k[j].ptr, k[i].len) == 0)
                    return dup_key_error(ps, &k[i]);
        return INFERD_OK;
    }
    if (n > ps->cap_sort &&
        !grow_stack((void **)&ps->sort_tmp, &ps->cap_sort, sizeof(key_ent_t), n))
        return oom(ps);
    memcpy(ps->sort_tmp, k, n * sizeof(key_ent_t));
    qsort(ps->sort_tmp, n, sizeof(key_ent_t), key_cmp);
    const key_ent_t *first = NULL;
    for (size_t i = 1; i < n; i++) {
        const key_ent_t *a = &ps->sort_tmp[i - 1], *b = &ps->sort_tmp[i];
        if (a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0 &&
            (!first || b->off < first->off))
            first = b;
    }
    return first ? dup_key_error(ps, first) : INFERD_OK;
}

/* Reads `"key" :` at ps->p onto the key stack. */
static inferd_status_t parse_key(parser_t *ps)
{
    if (*ps->p != '"') {
        if (ps->p >= ps->end)
            return unexpected(ps, ps->p);
        return syntax_error(ps, ps->p, "expected a string key");
    }
    key_ent_t k = {.off = off_of(ps, ps->p)};
    inferd_status_t st = parse_string(ps, &k.ptr, &k.len);
    if (st != INFERD_OK)
        return st;
    skip_ws(ps);
    if (*ps->p != ':') {
        if (ps->p >= ps->end)
            return unexpected(ps, ps->p);
        return syntax_error(ps, ps->p, "expected ':' after an object key");
    }
    ps->p++;
    if (ps->nkeys == ps->cap_keys &&
        !grow_stack((void **)&ps->keys, &ps->cap_keys, sizeof(*ps->keys), ps->nkeys + 1))
        return oom(ps);
    ps->keys[ps->nkeys++] = k;
    return INFERD_OK;
}

/* Pops the top frame, moving its children from the scratch stacks into the arena. */
static inferd_status_t close_container(parser_t *ps)
{
    frame_t *f = &ps->frames[ps->depth - 1];
    inferd_json_t *node = f->node;
    size_t n = ps->nvals - f->vals_base;
    if (node->type == INFERD_JSON_ARRAY) {
        node->u.array.count = n;
        node->u.array.items = NULL;
        if (n) {
            node->u.array.items = arena_alloc(ps->doc, n * sizeof(inferd_json_t *));
            if (!node->u.array.items)
                return oom(ps);
            memcpy(node->u.array.items, ps->vals + f->vals_base, n * sizeof(inferd_json_t *));
        }
    } else {
        /* keys stays NULL until the first key: no arithmetic on it for an empty object. */
        const key_ent_t *k = n ? ps->keys + f->keys_base : NULL;
        inferd_status_t st = check_dup_keys(ps, k, n);
        if (st != INFERD_OK)
            return st;
        node->u.object.count = n;
        node->u.object.members = NULL;
        if (n) {
            inferd_json_member_t *m = arena_alloc(ps->doc, n * sizeof(*m));
            if (!m)
                return oom(ps);
            for (size_t i = 0; i < n; i++) {
                m[i].key = k[i].ptr;
                m[i].key_len = k[i].len;
                m[i].value = ps->vals[f->vals_base + i];
            }
            node->u.object.members = m;
        }
        ps->nkeys = f->keys_base;
    }
    ps->nvals = f->vals_base;
    ps->depth--;
    return INFERD_OK;
}

static inferd_status_t open_container(parser_t *ps, inferd_json_type_t type, inferd_json_t **out)
{
    if (ps->depth >= ps->max_depth)
        return inferd_err_set(ps->err, INFERD_E_INVALID_ARG,
                              "JSON nesting deeper than %zu (max_depth limit) at offset %zu",
                              ps->max_depth, off_of(ps, ps->p));
    inferd_status_t st = INFERD_OK;
    inferd_json_t *node = new_node(ps, type, &st);
    if (!node)
        return st;
    if (ps->depth == ps->cap_frames &&
        !grow_stack((void **)&ps->frames, &ps->cap_frames, sizeof(frame_t), ps->depth + 1))
        return oom(ps);
    ps->frames[ps->depth++] = (frame_t){node, ps->nvals, ps->nkeys};
    ps->p++;
    *out = node;
    return INFERD_OK;
}

/* Parses one scalar at ps->p into *out. */
static inferd_status_t parse_scalar(parser_t *ps, inferd_json_t **out)
{
    inferd_status_t st = INFERD_OK;
    char c = *ps->p;
    inferd_json_t *node;
    if (c == '"') {
        if (!(node = new_node(ps, INFERD_JSON_STRING, &st)))
            return st;
        st = parse_string(ps, &node->u.string.ptr, &node->u.string.len);
    } else if (c == '-' || is_digit(c)) {
        if (!(node = new_node(ps, INFERD_JSON_NUMBER, &st)))
            return st;
        st = parse_number(ps, node);
    } else if (c == 't' && match_word(ps, ps->p, "true", 4)) {
        if (!(node = new_node(ps, INFERD_JSON_BOOL, &st)))
            return st;
        node->u.boolean = true;
        ps->p += 4;
    } else if (c == 'f' && match_word(ps, ps->p, "false", 5)) {
        if (!(node = new_node(ps, INFERD_JSON_BOOL, &st)))
            return st;
        node->u.boolean = false;
        ps->p += 5;
    } else if (c == 'n' && match_word(ps, ps->p, "null", 4)) {
        if (!(node = new_node(ps, INFERD_JSON_NULL, &st)))
            return st;
        ps->p += 4;
    } else if ((c == 'N' && match_word(ps, ps->p, "NaN", 3)) ||
               (c == 'I' && match_word(ps, ps->p, "Infinity", 8))) {
        if (!(node = new_node(ps, INFERD_JSON_NUMBER, &st)))
            return st;
        size_t n = c == 'N' ? 3 : 8;
        node->float_bits = 0;
        node->u.number.text = ps->p;
        node->u.number.len = n;
        ps->p += n;
    } else {
        return unexpected(ps, ps->p);
    }
    *out = node;
    return st;
}

/* After a ',' in an array: parses a run of numbers (tensor data) without the general value
 * dispatch, pushing each one that a ',' follows. Returns with *out = the last number, not
 * pushed, when something other than ',' follows it, or with *out = NULL when the next value
 * is not a number (the caller parses it). */
static inferd_status_t number_run(parser_t *ps, inferd_json_t **out)
{
    *out = NULL;
    for (;;) {
        skip_ws(ps);
        char c = *ps->p;
        if (c != '-' && !is_digit(c))
            return INFERD_OK;
        inferd_status_t st = INFERD_OK;
        inferd_json_t *node = new_node(ps, INFERD_JSON_NUMBER, &st);
        if (!node)
            return st;
        if ((st = parse_number(ps, node)) != INFERD_OK)
            return st;
        skip_ws(ps);
        if (*ps->p != ',') {
            *out = node;
            return INFERD_OK;
        }
        if (!push_val(ps, node))
            return oom(ps);
        ps->p++;
    }
}

static inferd_status_t parse_document(parser_t *ps)
{
    inferd_status_t st;
    inferd_json_t *v = NULL;
    for (;;) {
        /* A value starts here. */
        skip_ws(ps);
        char c = *ps->p;
        if (c == '[' || c == '{') {
            if ((st = open_container(ps, c == '[' ? INFERD_JSON_ARRAY : INFERD_JSON_OBJECT, &v)) !=
                INFERD_OK)
                return st;
            skip_ws(ps);
            if (*ps->p == (c == '[' ? ']' : '}')) {
                ps->p++;
                if ((st = close_container(ps)) != INFERD_OK)
                    return st;
            } else {
                if (c == '{') {
                    if ((st = parse_key(ps)) != INFERD_OK)
                        return st;
                }
                continue;
            }
        } else if ((st = parse_scalar(ps, &v)) != INFERD_OK) {
            return st;
        }

        /* v is complete: attach it and consume separators and closers until the next
         * value starts or the document ends. */
        for (;;) {
            if (ps->depth == 0) {
                ps->doc->root = v;
                skip_ws(ps);
                if (ps->p != ps->end)
                    return syntax_error(ps, ps->p, "unexpected data after the JSON value");
                return INFERD_OK;
            }
            if (!push_val(ps, v))
                return oom(ps);
            skip_ws(ps);
            frame_t *f = &ps->frames[ps->depth - 1];
            bool is_array = f->node->type == INFERD_JSON_ARRAY;
            c = *ps->p;
            if (c == ',') {
                ps->p++;
                if (is_array) {
                    if ((st = number_run(ps, &v)) != INFERD_OK)
                        return st;
                    if (v)
                        continue;
                } else {
                    skip_ws(ps);
                    if ((st = parse_key(ps)) != INFERD_OK)
                        return st;
                }
                break;
            }
            if (c == (is_array ? ']' : '}')) {
                ps->p++;
                v = f->node;
                if ((st = close_container(ps)) != INFERD_OK)
                    return st;
                continue;
            }
            if (ps->p >= ps->end)
                return unexpected(ps, ps->p);
            return syntax_error(ps, ps->p,
                                is_array ? "expected ',' or ']' in an array"
                                         : "expected ',' or '}' in an object");
        }
    }
}

inferd_status_t inferd_json_parse(const char *text, size_t len, const inferd_json_limits_t *lim,
                                  inferd_json_doc_t **out, inferd_err_t *err)
{
    *out = NULL;
    if (!lim)
        lim = &inferd_json_default_limits;
    if (len > SIZE_MAX / 2)
        return inferd_err_set(err, INFERD_E_TOO_LARGE, "JSON text too large");
    inferd_json_doc_t *doc = doc_create(len);
    if (!doc)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory");
    /* The copy gets a chunk of its own, so the node chunks keep their planned sizes. */
    size_t next = doc->next_chunk;
    doc->next_chunk = len + 1;
    char *copy = arena_alloc(doc, len + 1);
    doc->next_chunk = next;
    if (!copy) {
        inferd_json_doc_destroy(doc);
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED,
                              "out of memory copying %zu bytes of JSON", len);
    }
    if (len)
        memcpy(copy, text, len);
    copy[len] = '\0';

    parser_t ps = {
        .base = copy,
        .p = copy,
        .end = copy + len,
        .doc = doc,
        .err = err,
        .max_depth = lim->max_depth,
        .max_nodes = lim->max_nodes,
    };
    inferd_status_t st = parse_document(&ps);
    inferd_free(ps.vals);
    inferd_free(ps.keys);
    inferd_free(ps.frames);
    inferd_free(ps.sort_tmp);
    if (st != INFERD_OK) {
        inferd_json_doc_destroy(doc);
        return st;
    }
    *out = doc;
    return INFERD_OK;
}

inferd_json_t *inferd_json_get(const inferd_json_t *obj, const char *key)
{
    if (!obj || obj->type != INFERD_JSON_OBJECT)
        return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->u.object.count; i++) {
        const inferd_json_member_t *m = &obj->u.object.members[i];
        if (m->key_len == n && memcmp(m->key, key, n) == 0)
            return m->value;
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------ */
/* Number conversions                                                                   */

/* Exponents beyond this only matter as "huge"; clamping keeps the arithmetic in int64. */
#define EXP_CLAMP ((int64_t)1 << 40)

/* Reads the exponent digits at s[i..len) (after 'e'), saturating. */
static int64_t read_exponent(const char *s, size_t i, size_t len)
{
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    int64_t e = 0;
    for (; i < len && is_digit(s[i]); i++)
        if (e < EXP_CLAMP)
            e = e * 10 + (s[i] - '0');
    return neg ? -e : e;
}

/* The magnitude of an integral number lexeme, exactly. False for NaN/Infinity, for values
 * with a fractional part, and for magnitudes above UINT64_MAX. */
static bool lexeme_to_mag(const char *s, size_t len, bool *neg, uint64_t *mag)
{
    size_t i = 0;
    *neg = false;
    if (i < len && s[i] == '-') {
        *neg = true;
        i++;
    }
    if (i >= len || !is_digit(s[i]))
        return false;
    size_t ms = i, dot = SIZE_MAX;
    for (; i < len && (is_digit(s[i]) || s[i] == '.'); i++)
        if (s[i] == '.')
            dot = i;
    size_t me = i;
    int64_t exp = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E'))
        exp = read_exponent(s, i + 1, len);
    if (dot == SIZE_MAX)
        dot = me;

    size_t first = ms;
    while (first < me && (s[first] == '0' || s[first] == '.'))
        first++;
    if (first == me) {
        *mag = 0;
        return true;
    }
    size_t last = me - 1;
    while (s[last] == '0' || s[last] == '.')
        last--;
    /* The decimal place of a digit: 0 for units, negative in the fraction. */
    int64_t lo = (last < dot ? (int64_t)(dot - 1 - last) : -(int64_t)(last - dot)) + exp;
    int64_t hi = (first < dot ? (int64_t)(dot - 1 - first) : -(int64_t)(first - dot)) + exp;
    if (lo < 0 || hi > 19)
        return false;
    uint64_t v = 0;
    for (i = first; i <= last; i++) {
        if (s[i] == '.')
            continue;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    for (int64_t k = 0; k < lo; k++) {
        if (v > UINT64_MAX / 10)
            return false;
        v *= 10;
    }
    *mag = v;
    return true;
}

bool inferd_json_to_int64(const inferd_json_t *n, int64_t *out)
{
    bool neg;
    uint64_t mag;
    if (!n || n->type != INFERD_JSON_NUMBER ||
        !lexeme_to_mag(n->u.number.text, n->u.number.len, &neg, &mag))
        return false;
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1)
            return false;
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)mag;
    }
    return true;
}

bool inferd_json_to_uint64(const inferd_json_t *n, uint64_t *out)
{
    bool neg;
    uint64_t mag;
    if (!n || n->type != INFERD_JSON_NUMBER ||
        !lexeme_to_mag(n->u.number.text, n->u.number.len, &neg, &mag))
        return false;
    if (neg && mag != 0)
        return false;
    *out = mag;
    return true;
}

/* A decimal as up to 19 leading significant digits: value ~= m * 10^e. */
typedef struct {
    bool neg;
    bool truncated; /* nonzero digits were dropped after the 19th */
    uint64_t m;
    int64_t e;
} decimal_t;

static void lexeme_to_decimal(const char *s, size_t len, decimal_t *d)
{
    size_t i = 0;
    d->neg = false;
    d->truncated = false;
    d->m = 0;
    d->e = 0;
    if (i < len && s[i] == '-') {
        d->neg = true;
        i++;
    }
    int nd = 0;
    bool frac = false;
    for (; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            frac = true;
            continue;
        }
        if (!is_digit(c))
            break;
        unsigned dig = (unsigned)(c - '0');
        if (nd == 0 && dig == 0) {
            if (frac)
                d->e--;
        } else if (nd < 19) {
            d->m = d->m * 10 + dig;
            nd++;
            if (frac)
                d->e--;
        } else {
            if (!frac)
                d->e++;
            if (dig)
                d->truncated = true;
        }
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E'))
        d->e += read_exponent(s, i + 1, len);
}

static const double pow10_tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The fast paths rely on each double operation rounding once, to double. */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define FAST_DECIMAL 1
#else
#define FAST_DECIMAL 0
#endif

/* NaN / Infinity / -Infinity; false for ordinary lexemes. */
static bool special_value(const char *s, size_t len, double *out)
{
    if (len == 3 && s[0] == 'N') {
        *out = NAN;
        return true;
    }
    if (len == 8 && s[0] == 'I') {
        *out = INFINITY;
        return true;
    }
    if (len == 9 && s[1] == 'I') {
        *out = -INFINITY;
        return true;
    }
    return false;
}

/* strtod_l/strtof_l need a NUL-terminated string that ends the number. Lexemes in a parsed
 * document are followed by a delimiter or the copy's NUL sentinel, but a bounded copy keeps
 * this function from depending on that. */
static bool slow_convert(const char *s, size_t len, bool want_float, double *dout, float *fout)
{
    char small[128];
    char *buf = small;
    if (len >= sizeof(small)) {
        buf = inferd_malloc(len + 1);
        if (!buf)
            return false;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    if (want_float)
        *fout = strtof_l(buf, &end, get_c_locale());
    else
        *dout = strtod_l(buf, &end, get_c_locale());
    bool ok = end == buf + len;
    if (buf != small)
        inferd_free(buf);
    return ok;
}

/* The common lexeme, read in one pass: at most 19 digits in all (so the integer m of the
 * digits is exact) and an exponent of at most 5 digits, value = m * 10^e. False, with the
 * outputs unspecified, for anything else (longer numbers, NaN, Infinity): the caller takes
 * the general path. */
static inline __attribute__((always_inline)) bool lexeme_short(const char *s, size_t len, bool *neg,
                                                               uint64_t *mout, int *eout)
{
    const char *p = s, *end = s + len;
    *neg = p < end && *p == '-';
    p += *neg;
    const char *ds = p;
    uint64_t m = 0;
    while (p < end && (unsigned)(*p - '0') < 10)
        m = m * 10 + (uint64_t)(*p++ - '0');
    size_t nint = (size_t)(p - ds);
    size_t nfrac = 0;
    if (p < end && *p == '.') {
        const char *fs = ++p;
        while (p < end && (unsigned)(*p - '0') < 10)
            m = m * 10 + (uint64_t)(*p++ - '0'); /* wraps harmlessly past 19 digits: refused */
        nfrac = (size_t)(p - fs);
    }
    if (nint == 0 || nint + nfrac > 19)
        return false;
    int e = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        bool eneg = p < end && *p == '-';
        p += p < end && (*p == '-' || *p == '+');
        const char *es = p;
        while (p < end && (unsigned)(*p - '0') < 10 && p - es < 5)
            e = e * 10 + (*p++ - '0');
        if (p == es)
            return false;
        e = eneg ? -e : e;
    }
    *mout = m;
    *eout = e - (int)nfrac;
    return p == end;
}

/* Clinger's fast path: when m <= 2^53 and |e| <= 22, m and 10^|e| are exact doubles, so one
 * IEEE multiply or divide gives m * 10^e correctly rounded to double. */
static inline bool clinger(uint64_t m, int e, double *v)
{
    if (!FAST_DECIMAL || m > ((uint64_t)1 << 53) || e < -22 || e > 22)
        return false;
    double x = (double)(int64_t)m;
    *v = e >= 0 ? x * pow10_tab[e] : x / pow10_tab[-e];
    return true;
}

/* The float nearest the decimal x, given v = x correctly rounded to double (clinger()).
 * Rounding v to float gives the float nearest x unless v is exactly a float rounding
 * boundary (the midpoint of two adjacent floats) that x is not: rounding to double is
 * monotonic and leaves doubles unchanged, and every such midpoint is a double, so x and v lie
 * on the same side of every midpoint that v is not equal to. Midpoints are the doubles whose
 * 29 low mantissa bits are exactly 1 << 28 (bit 24 after the binary point set, none below).
 * v >= 1e-22 and v < 2^53 * 1e22 keep it clear of float subnormals and overflow. False when
 * v is a midpoint. */
static inline bool float_from_clinger(double v, float *out)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    if ((bits & (((uint64_t)1 << 29) - 1)) == ((uint64_t)1 << 28))
        return false;
    *out = (float)v;
    return true;
}

static bool double_general(const char *s, size_t len, double *out)
{
    if (special_value(s, len, out))
        return true;
    decimal_t d;
    lexeme_to_decimal(s, len, &d);
    if (d.m == 0) {
        *out = d.neg ? -0.0 : 0.0;
        return true;
    }
    double v;
    if (!d.truncated && d.e >= -22 && d.e <= 22 && clinger(d.m, (int)d.e, &v)) {
        *out = d.neg ? -v : v;
        return true;
    }
    return slow_convert(s, len, false, out, NULL);
}

bool inferd_json_to_double(const inferd_json_t *n, double *out)
{
    if (!n || n->type != INFERD_JSON_NUMBER)
        return false;
    const char *s = n->u.number.text;
    size_t len = n->u.number.len;
    bool neg;
    uint64_t m;
    int e;
    double v;
    if (lexeme_short(s, len, &neg, &m, &e) && clinger(m, e, &v)) {
        *out = neg ? -v : v;
        return true;
    }
    return double_general(s, len, out);
}

/* Up to 19 leading digits and a power of ten within double's exact range. */
static bool float_from_decimal(const decimal_t *d, float *out)
{
    if (!FAST_DECIMAL || d->e < -22 || d->e > 22)
        return false;
    /* v is within ~2 double ulps of the exact value (m -> double, one multiply or divide,
     * and any dropped digits). Rounding v to float gives the correctly rounded float unless
     * a float rounding boundary (a midpoint between floats) lies within that error, which
     * shows in the 29 low mantissa bits being near 1 << 28. */
    double v = (double)d->m;
    v = d->e >= 0 ? v * pow10_tab[d->e] : v / pow10_tab[-d->e];
    if (!(v >= (double)FLT_MIN && v <= (double)FLT_MAX))
        return false;
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    int64_t low = (int64_t)(bits & (((uint64_t)1 << 29) - 1)) - ((int64_t)1 << 28);
    if (low <= 8 && low >= -8)
        return false;
    float f = (float)v;
    *out = d->neg ? -f : f;
    return true;
}

static bool float_general(const char *s, size_t len, float *out)
{
    double sv;
    if (special_value(s, len, &sv)) {
        *out = (float)sv;
        return true;
    }
    decimal_t d;
    lexeme_to_decimal(s, len, &d);
    if (d.m == 0) {
        *out = d.neg ? -0.0f : 0.0f;
        return true;
    }
    if (float_from_decimal(&d, out))
        return true;
    return slow_convert(s, len, true, NULL, out);
}

/* 10^-k rounded to double, for k in [0, 22]. */
static const double neg_pow10_tab[23] = {1e-0,  1e-1,  1e-2,  1e-3,  1e-4,  1e-5,  1e-6,  1e-7,
                                         1e-8,  1e-9,  1e-10, 1e-11, 1e-12, 1e-13, 1e-14, 1e-15,
                                         1e-16, 1e-17, 1e-18, 1e-19, 1e-20, 1e-21, 1e-22};

/* The float nearest m * 10^e (negated when neg) by a fast path, as bits; 0 when no fast
 * path applies (the value is then read the slow way; a true +0 is cheap there too). */
static inline __attribute__((always_inline)) uint32_t float_bits_of(bool neg, uint64_t m, int e)
{
    if (!FAST_DECIMAL || m == 0 || m > ((uint64_t)1 << 53) || e < -22 || e > 22)
        return 0;
    float f;
    if (e < 0) {
        /* The tensor-data case (0.4170), without a division: m is exact, 10^e and the
         * product each round once, so v is within 3 double ulps of m * 10^e (relative error
         * at most 2^-52, an ulp at least 2^-53 of v). When no float rounding boundary lies
         * within 8 ulps of v, v and the exact value round to the same float (the argument
         * of float_from_decimal); otherwise Clinger's exact quotient decides. */
        double v = (double)(int64_t)m * neg_pow10_tab[-e]; /* m <= 2^53: a signed convert */
        uint64_t bits;
        memcpy(&bits, &v, sizeof(bits));
        int64_t low = (int64_t)(bits & (((uint64_t)1 << 29) - 1)) - ((int64_t)1 << 28);
        if (low > 8 || low < -8)
            f = (float)v;
        else if (!float_from_clinger((double)(int64_t)m / pow10_tab[-e], &f))
            return 0;
    } else if (!float_from_clinger((double)(int64_t)m * pow10_tab[e], &f)) {
        return 0;
    }
    f = neg ? -f : f;
    uint32_t out;
    memcpy(&out, &f, sizeof(out));
    return out;
}

static inline __attribute__((always_inline)) bool to_float(const char *s, size_t len, float *out)
{
    bool neg;
    uint64_t m;
    int e;
    if (!lexeme_short(s, len, &neg, &m, &e))
        return float_general(s, len, out);
    uint32_t bits = float_bits_of(neg, m, e);
    if (bits) {
        memcpy(out, &bits, sizeof(bits));
        return true;
    }
    if (m == 0) {
        *out = neg ? -0.0f : 0.0f;
        return true;
    }
    /* 17 to 19 digits (Python clients print 17) or a larger exponent. */
    decimal_t d = {.neg = neg, .truncated = false, .m = m, .e = e};
    if (float_from_decimal(&d, out))
        return true;
    return slow_convert(s, len, true, NULL, out);
}

/* A parsed node's float bits when the parser proved them, else the full conversion. */
static inline __attribute__((always_inline)) bool node_to_float(const inferd_json_t *n, float *out)
{
    if (n->float_bits) {
        memcpy(out, &n->float_bits, sizeof(*out));
        return true;
    }
    return to_float(n->u.number.text, n->u.number.len, out);
}

bool inferd_json_to_float(const inferd_json_t *n, float *out)
{
    if (!n || n->type != INFERD_JSON_NUMBER)
        return false;
    return node_to_float(n, out);
}

size_t inferd_json_numbers_to_float(inferd_json_t *const *items, size_t n, void *dst)
{
    for (size_t i = 0; i < n; i++) {
        const inferd_json_t *v = items[i];
        float x;
        if (v->type != INFERD_JSON_NUMBER || !node_to_float(v, &x))
            return i;
        memcpy((unsigned char *)dst + i * sizeof(x), &x, sizeof(x));
    }
    return n;
}

size_t inferd_json_numbers_to_double(inferd_json_t *const *items, size_t n, void *dst)
{
    for (size_t i = 0; i < n; i++) {
        double x;
        if (!inferd_json_to_double(items[i], &x))
            return i;
        memcpy((unsigned char *)dst + i * sizeof(x), &x, sizeof(x));
    }
    return n;
}

/* ------------------------------------------------------------------------------------ */
/* Number printing                                                                      */

/* Writes a number given its significant digits (no trailing zeros) and the decimal place of
 * the first digit: plain notation for places -7..20, exponent notation outside. */
static void write_digits(inferd_buf_t *out, bool neg, const char *dig, int nd, int k)
{
    char buf[64];
    int n = 0;
    if (neg)
        buf[n++] = '-';
    if (k >= 0 && k < 21) {
        if (nd <= k + 1) {
            memcpy(buf + n, dig, (size_t)nd);
            n += nd;
            for (int i = nd; i <= k; i++)
                buf[n++] = '0';
        } else {
            memcpy(buf + n, dig, (size_t)k + 1);
            n += k + 1;
            buf[n++] = '.';
            memcpy(buf + n, dig + k + 1, (size_t)(nd - k - 1));
            n += nd - k - 1;
        }
    } else if (k < 0 && k >= -7) {
        buf[n++] = '0';
        buf[n++] = '.';
        for (int i = 0; i < -k - 1; i++)
            buf[n++] = '0';
        memcpy(buf + n, dig, (size_t)nd);
        n += nd;
    } else {
        buf[n++] = dig[0];
        if (nd > 1) {
            buf[n++] = '.';
            memcpy(buf + n, dig + 1, (size_t)nd - 1);
            n += nd - 1;
        }
        buf[n++] = 'e';
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%d", k);
    }
    inferd_buf_append(out, buf, (size_t)n);
}

static bool write_special(inferd_buf_t *out, double v)
{
    if (isnan(v)) {
        inferd_buf_append(out, "NaN", 3);
        return true;
    }
    if (isinf(v)) {
        if (v < 0)
            inferd_buf_append(out, "-Infinity", 9);
        else
            inferd_buf_append(out, "Infinity", 8);
        return true;
    }
    if (v == 0) {
        if (signbit(v))
            inferd_buf_append(out, "-0.0", 4); /* "-0" reads back as the integer 0 */
        else
            inferd_buf_append(out, "0", 1);
        return true;
    }
    return false;
}

/* Formats |v| with p significant digits in the C locale ("d.ddde+XX"), and splits it into
 * digits (trailing zeros dropped) and the exponent. Returns the text length for reading
 * back. */
static void format_e(double av, int p, char *text, size_t cap, char *dig, int *nd, int *k)
{
    locale_t old = uselocale(get_c_locale());
    snprintf(text, cap, "%.*e", p - 1, av);
    uselocale(old);
    int n = 0;
    const char *t = text;
    for (; *t && *t != 'e'; t++)
        if (is_digit(*t))
            dig[n++] = *t;
    while (n > 1 && dig[n - 1] == '0')
        n--;
    *nd = n;
    int e = 0;
    bool eneg = false;
    if (*t == 'e') {
        t++;
        if (*t == '+' || *t == '-')
            eneg = *t++ == '-';
        while (is_digit(*t))
            e = e * 10 + (*t++ - '0');
    }
    *k = eneg ? -e : e;
}

/* Shortest-digits search by bisection over the precision. It assumes that when p digits
 * round-trip so do p + 1 (a correctly rounded p+1-digit value is no farther away), which can
 * fail only at the asymmetric interval of a power of two, costing at worst a digit there. */
static void write_shortest_slow(inferd_buf_t *out, double v, bool is_float)
{
    char text[64], dig[32];
    int nd, k;
    double av = fabs(v);
    int lo = 1, hi = is_float ? 9 : 17;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        format_e(av, mid, text, sizeof(text), dig, &nd, &k);
        char *end;
        bool ok;
        if (is_float)
            ok = strtof_l(text, &end, get_c_locale()) == (float)av;
        else
            ok = strtod_l(text, &end, get_c_locale()) == av;
        if (ok)
            hi = mid;
        else
            lo = mid + 1;
    }
    format_e(av, hi, text, sizeof(text), dig, &nd, &k);
    write_digits(out, signbit(v) != 0, dig, nd, k);
}

/* The nearest doubles to 1e-46 .. 1e39, bracketing every float's decade. */
#define FLOAT_DECADE_MIN (-46)
static const double float_decades[] = {
    1e-46, 1e-45, 1e-44, 1e-43, 1e-42, 1e-41, 1e-40, 1e-39, 1e-38, 1e-37, 1e-36, 1e-35, 1e-34,
    1e-33, 1e-32, 1e-31, 1e-30, 1e-29, 1e-28, 1e-27, 1e-26, 1e-25, 1e-24, 1e-23, 1e-22, 1e-21,
    1e-20, 1e-19, 1e-18, 1e-17, 1e-16, 1e-15, 1e-14, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9,  1e-8,
    1e-7,  1e-6,  1e-5,  1e-4,  1e-3,  1e-2,  1e-1,  1e0,   1e1,   1e2,   1e3,   1e4,   1e5,
    1e6,   1e7,   1e8,   1e9,   1e10,  1e11,  1e12,  1e13,  1e14,  1e15,  1e16,  1e17,  1e18,
    1e19,  1e20,  1e21,  1e22,  1e23,  1e24,  1e25,  1e26,  1e27,  1e28,  1e29,  1e30,  1e31,
    1e32,  1e33,  1e34,  1e35,  1e36,  1e37,  1e38,  1e39,
};

/* Decimal place of the leading digit of a positive normal float given its bits: an estimate
 * from the binary exponent (log10(2) ~ 78913 / 2^18), corrected against the table. */
static int float_decimal_place(float av, uint32_t bits)
{
    int e2 = (int)((bits >> 23) & 0xff) - 127; /* av in [2^e2, 2^(e2+1)) */
    int t = e2 * 78913;
    int k = t >= 0 ? t >> 18 : -((-t + (1 << 18) - 1) >> 18);
    int top = (int)(sizeof(float_decades) / sizeof(float_decades[0])) - 1 + FLOAT_DECADE_MIN;
    while (k + 1 <= top && (double)av >= float_decades[k + 1 - FLOAT_DECADE_MIN])
        k++;
    while (k > FLOAT_DECADE_MIN && (double)av < float_decades[k - FLOAT_DECADE_MIN])
        k--;
    return k;
}

/* Shortest digits for a positive normal float without formatting and reading back.
 *
 * The decimals that read back as av are those strictly between the midpoints to its float
 * neighbours (and the midpoints themselves when av's mantissa is even). Scaled by 10^s so
 * that av has ten integer digits, that interval holds dozens of integers; digits are then
 * dropped while some integer still fits, which leaves the fewest digits possible, and the
 * value nearest av at that length is taken. For 0 <= s <= 11 every scaled quantity is
 * exact in a double (a 26-bit midpoint times 5^s fits 53 bits); outside that, each is one
 * rounding away from the truth and an interval end within 2^-50 of an integer sends the
 * value to the slow path. False when this path cannot decide. */
static bool float_shortest_fast(float fa, char *dig, int *nd, int *place)
{
#if FAST_DECIMAL
    uint32_t bits;
    memcpy(&bits, &fa, sizeof(bits));
    if (bits < 0x00800000u || bits >= 0x7f7fffffu)
        return false; /* subnormal or the largest float: rare, leave them to the slow path */
    uint32_t pb = bits - 1, nb = bits + 1;
    float prevf, nextf;
    memcpy(&prevf, &pb, sizeof(prevf));
    memcpy(&nextf, &nb, sizeof(nextf));
    double av = fa;
    double mlo = ((double)prevf + av) * 0.5, mhi = ((double)nextf + av) * 0.5;
    int k = float_decimal_place(fa, bits);
    int s = 9 - k;
    if (s > 22 || s < -22)
        return false;
    double x, lo, hi;
    if (s >= 0) {
        double sc = pow10_tab[s];
        x = av * sc;
        lo = mlo * sc;
        hi = mhi * sc;
    } else {
        double sc = pow10_tab[-s];
        x = av / sc;
        lo = mlo / sc;
        hi = mhi / sc;
    }
    if (hi >= 0x1p52)
        return false;
    double a = ceil(lo), b = floor(hi);
    if (s >= 0 && s <= 11) {
        bool ends_read_back = (bits & 1) == 0; /* ties go to the even mantissa */
        if (a == lo && !ends_read_back)
            a += 1;
        if (b == hi && !ends_read_back)
            b -= 1;
    } else {
        double eps = hi * 0x1p-50;
        if (a - lo < eps || lo - (a - 1) < eps || hi - b < eps || (b + 1) - hi < eps)
            return false;
    }
    if (a > b)
        return false;
    uint64_t ia = (uint64_t)a, ib = (uint64_t)b;
    int d = 0;
    for (;;) {
        uint64_t na = (ia + 9) / 10, nb10 = ib / 10;
        if (na > nb10)
            break;
        ia = na;
        ib = nb10;
        d++;
    }
    /* Nearest to av at scale 10^d; any value in [ia, ib] reads back, so an approximate
     * rounding here only risks a less close, equally short, still exact result. */
    uint64_t c = (uint64_t)(x / pow10_tab[d] + 0.5);
    if (c < ia)
        c = ia;
    if (c > ib)
        c = ib;
    char rev[24];
    int n = 0;
    while (c) {
        rev[n++] = (char)('0' + c % 10);
        c /= 10;
    }
    int z = 0;
    while (z < n - 1 && rev[z] == '0')
        z++;
    for (int i = 0; i < n - z; i++)
        dig[i] = rev[n - 1 - i];
    *nd = n - z;
    *place = n - 1 + d - s;
    return n > 0;
#else
    (void)fa;
    (void)dig;
    (void)nd;
    (void)place;
    return false;
#endif
}

void inferd_json_write_float(inferd_buf_t *out, float v)
{
    if (write_special(out, v))
        return;
    char dig[24];
    int nd, place;
    if (float_shortest_fast(fabsf(v), dig, &nd, &place)) {
        write_digits(out, v < 0, dig, nd, place);
        return;
    }
    write_shortest_slow(out, v, true);
}

/* 5^0 .. 5^27, all below 2^63. */
static const uint64_t pow5_tab[28] = {
    1ull,
    5ull,
    25ull,
    125ull,
    625ull,
    3125ull,
    15625ull,
    78125ull,
    390625ull,
    1953125ull,
    9765625ull,
    48828125ull,
    244140625ull,
    1220703125ull,
    6103515625ull,
    30517578125ull,
    152587890625ull,
    762939453125ull,
    3814697265625ull,
    19073486328125ull,
    95367431640625ull,
    476837158203125ull,
    2384185791015625ull,
    11920928955078125ull,
    59604644775390625ull,
    298023223876953125ull,
    1490116119384765625ull,
    7450580596923828125ull,
};

/* y * 2^(e2) * 10^s split into floor and whether a fraction remains (and how it compares
 * with one half), exactly, for y < 2^55 and 0 <= s <= 27; false if it does not fit 64 bits. */
typedef struct {
    uint64_t ip; /* floor */
    int frac;    /* 0: none, 1: below 1/2, 2: exactly 1/2, 3: above 1/2 */
} scaled_t;

#ifdef __SIZEOF_INT128__
static bool scale_exact(uint64_t y, int e2, int s, scaled_t *out)
{
    unsigned __int128 pr = (unsigned __int128)y * pow5_tab[s];
    int t = e2 + s; /* the 2^s of 10^s joins the binary exponent */
    if (t >= 0) {
        if (t >= 64 || (pr >> (64 - t)) >> 64)
            return false;
        pr <<= t;
        if (pr >> 64)
            return false;
        out->ip = (uint64_t)pr;
        out->frac = 0;
        return true;
    }
    int sh = -t;
    if (sh >= 127)
        return false;
    unsigned __int128 ipart = pr >> sh;
    if (ipart >> 64)
        return false;
    unsigned __int128 rem = pr & (((unsigned __int128)1 << sh) - 1);
    unsigned __int128 half = (unsigned __int128)1 << (sh - 1);
    out->ip = (uint64_t)ipart;
    out->frac = rem == 0 ? 0 : rem < half ? 1 : rem == half ? 2 : 3;
    return true;
}
#else
static bool scale_exact(uint64_t y, int e2, int s, scaled_t *out)
{
    (void)y;
    (void)e2;
    (void)s;
    (void)out;
    return false;
}
#endif

/* Shortest digits for a positive normal double in [1e-10, 1e18), exactly, with 128-bit
 * integer arithmetic: the same interval and digit dropping as float_shortest_fast, at an
 * 18-digit scale. False outside that range. */
static bool double_shortest_fast(double av, char *dig, int *nd, int *place)
{
#ifndef __SIZEOF_INT128__
    return false;
#endif
    if (!(av >= 1e-10 && av < 1e18))
        return false;
    uint64_t bits;
    memcpy(&bits, &av, sizeof(bits));
    int ef = (int)(bits >> 52);
    uint64_t m = (bits & ((1ull << 52) - 1)) | (1ull << 52);
    int e = ef - 1075; /* av = m * 2^e */
    /* An estimate of the decimal place; the scale only needs to put av at 17-19 digits. */
    int t = (ef - 1023) * 78913;
    int k = t >= 0 ? t >> 18 : -((-t + (1 << 18) - 1) >> 18);
    int s = 17 - k;
    if (s < 0 || s > 27)
        return false;
    /* In units of 2^(e-2): av = 4m, the upper midpoint 4m+2, the lower 4m-2, or 4m-1 at a
     * power of two where the gap below is half as wide. */
    uint64_t ylo = (bits & ((1ull << 52) - 1)) == 0 && ef > 1 ? 4 * m - 1 : 4 * m - 2;
    scaled_t x, lo, hi;
    if (!scale_exact(4 * m, e - 2, s, &x) || !scale_exact(ylo, e - 2, s, &lo) ||
        !scale_exact(4 * m + 2, e - 2, s, &hi))
        return false;
    bool ends_read_back = (m & 1) == 0;
    uint64_t ia = lo.ip + (lo.frac != 0 || !ends_read_back);
    uint64_t ib = hi.ip - (hi.frac == 0 && !ends_read_back);
    if (ia > ib)
        return false;
    int d = 0;
    uint64_t pd = 1;
    for (;;) {
        uint64_t na = (ia + 9) / 10, nb10 = ib / 10;
        if (na > nb10)
            break;
        ia = na;
        ib = nb10;
        d++;
        pd *= 10;
    }
    /* Nearest to av at scale 10^d (ties to even), kept inside the interval. */
    uint64_t q = x.ip / pd, r = x.ip % pd;
    bool up;
    if (d == 0)
        up = x.frac == 3 || (x.frac == 2 && (q & 1));
    else
        up = r > pd / 2 || (r == pd / 2 && (x.frac != 0 || (q & 1)));
    uint64_t c = q + up;
    if (c < ia)
        c = ia;
    if (c > ib)
        c = ib;
    char rev[24];
    int n = 0;
    while (c) {
        rev[n++] = (char)('0' + c % 10);
        c /= 10;
    }
    int z = 0;
    while (z < n - 1 && rev[z] == '0')
        z++;
    for (int i = 0; i < n - z; i++)
        dig[i] = rev[n - 1 - i];
    *nd = n - z;
    *place = n - 1 + d - s;
    return n > 0;
}

void inferd_json_write_double(inferd_buf_t *out, double v)
{
    if (write_special(out, v))
        return;
    char dig[24];
    int nd, place;
    if (double_shortest_fast(fabs(v), dig, &nd, &place)) {
        write_digits(out, v < 0, dig, nd, place);
        return;
    }
    write_shortest_slow(out, v, false);
}
