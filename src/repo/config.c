/* Model configuration (see config.h): a parser for the protobuf text format subset that
 * Triton users write in config.pbtxt, the ONNX auto-complete and validation that run once
 * the model file has been opened, and the JSON rendering served by the model
 * configuration extension.
 *
 * The parser is table driven: every message kind is a list of field names plus one
 * function that reads a field's value into the right place. Values are read by a small
 * set of typed readers (string, integer, bool, enum, integer list, message, list of
 * messages), so the text format rules live in one place and every error carries the
 * line and column of the token that caused it. Message bodies that inferd accepts but
 * does not use (optimization, model_warmup, response_cache) are checked for syntax and
 * skipped. Everything is bounded: input size, nesting, string length and list lengths.
 *
 * Runs on the repository's loading thread; nothing here is shared between threads. */
#include "repo/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

/* Limits. A config is written by an operator, but it may come from an API call too
 * (the repository load extension), so nothing it says may grow without bound. */
#define CONFIG_MAX_TEXT (1u << 20) /* bytes of config text */
#define CONFIG_MAX_DEPTH 32        /* nested messages and lists */
#define CONFIG_MAX_STRING 16384    /* bytes in one decoded string */
#define CONFIG_MAX_IO 1024         /* inputs, and outputs */
#define CONFIG_MAX_GROUPS 64       /* instance groups */
#define CONFIG_MAX_GROUP_COUNT 256 /* instances in one group */
#define CONFIG_MAX_LIST 1024       /* versions, parameters, gpus */
#define CONFIG_MAX_PREFERRED 64    /* preferred batch sizes */

#define ONNX_PLATFORM "onnxruntime_onnx"
#define ONNX_BACKEND "onnxruntime"
#define ONNX_DEFAULT_FILENAME "model.onnx"

/* Triton gives onnxruntime (and tensorflow) CPU groups two instances by default; other
 * backends get one. */
#define ONNX_DEFAULT_CPU_COUNT 2

/* ------------------------------------------------------------------------------------ */
/* Init and deinit                                                                      */

void inferd_model_config_init(inferd_model_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->version_policy = INFERD_VERSION_POLICY_LATEST;
    cfg->latest_num_versions = 1;
}

static void io_deinit(inferd_model_io_t *io)
{
    inferd_free(io->name);
    inferd_free(io->label_filename);
}

void inferd_model_config_deinit(inferd_model_config_t *cfg)
{
    inferd_free(cfg->name);
    inferd_free(cfg->platform);
    inferd_free(cfg->backend);
    inferd_free(cfg->default_model_filename);
    for (size_t i = 0; i < cfg->n_inputs; i++)
        io_deinit(&cfg->inputs[i]);
    inferd_free(cfg->inputs);
    for (size_t i = 0; i < cfg->n_outputs; i++)
        io_deinit(&cfg->outputs[i]);
    inferd_free(cfg->outputs);
    inferd_free(cfg->specific_versions);
    for (size_t i = 0; i < cfg->n_instance_groups; i++)
        inferd_free(cfg->instance_groups[i].name);
    inferd_free(cfg->instance_groups);
    inferd_free(cfg->dynamic_batching.preferred_batch_size);
    for (size_t i = 0; i < cfg->n_parameters; i++) {
        inferd_free(cfg->parameters[i].key);
        inferd_free(cfg->parameters[i].value);
    }
    inferd_free(cfg->parameters);
    inferd_model_config_init(cfg);
}

/* Appends one zeroed element to a bookkeeping array. Lists are capped far below the
 * point where growing one element at a time would cost anything. */
static void *array_push(void *arr, size_t *n, size_t elem_size)
{
    char *p = inferd_xrealloc(arr, (*n + 1) * elem_size);
    memset(p + *n * elem_size, 0, elem_size);
    (*n)++;
    return p;
}

/* ------------------------------------------------------------------------------------ */
/* Lexer                                                                                */

typedef enum {
    TOK_EOF = 0,
    TOK_IDENT,  /* field names, enum values, true/false */
    TOK_NUMBER, /* anything that starts like a number; readers decide what it may be */
    TOK_STRING, /* one quoted literal, quotes included in s/n */
    TOK_PUNCT,  /* one of { } [ ] < > : , ; */
} tok_kind_t;

typedef struct tok {
    tok_kind_t kind;
    const char *s; /* raw text in the input */
    size_t n;
    int line, col; /* 1-based; col counts bytes */
} tok_t;

typedef struct parser {
    const char *p, *end; /* unread input */
    int line, col;       /* position of p */
    tok_t tok;           /* the lookahead token */
    int depth;
    const char *source;
    inferd_err_t *err;
    inferd_model_config_t *cfg;
} parser_t;

static inferd_status_t fail_at(const parser_t *ps, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inferd_status_t fail_at(const parser_t *ps, int line, int col, const char *fmt, ...)
{
    char msg[INFERD_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return inferd_err_set(ps->err, INFERD_E_INVALID_ARG, "%s:%d:%d: %s", ps->source, line, col,
                          msg);
}

#define fail_tok(ps, t, ...) fail_at((ps), (t)->line, (t)->col, __VA_ARGS__)

static bool is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ident_char(char c)
{
    return is_ident_start(c) || is_digit(c);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A short printable rendering of a token for "found ..." in messages. */
static const char *tok_describe(const tok_t *t, char *buf, size_t cap)
{
    switch (t->kind) {
    case TOK_EOF: return "end of input";
    case TOK_STRING: return "a string";
    case TOK_IDENT:
    case TOK_NUMBER:
    case TOK_PUNCT: snprintf(buf, cap, "'%.*s'", t->n > 40 ? 40 : (int)t->n, t->s); return buf;
    }
    return "?";
}

static void lex_step(parser_t *ps)
{
    if (*ps->p == '\n') {
        ps->line++;
        ps->col = 1;
    } else {
        ps->col++;
    }
    ps->p++;
}

/* Reads one escape sequence after a backslash at p (p points at the character after the
 * backslash). On success returns the number of input bytes used and the value in *cp;
 * *is_char says whether it is a Unicode code point (\u, \U) rather than a raw byte.
 * Returns 0 for an invalid escape. */
static size_t escape_scan(const char *p, const char *end, uint32_t *cp, bool *is_char)
{
    *is_char = false;
    if (p >= end)
        return 0;
    switch (*p) {
    case 'n': *cp = '\n'; return 1;
    case 't': *cp = '\t'; return 1;
    case 'r': *cp = '\r'; return 1;
    case 'a': *cp = '\a'; return 1;
    case 'b': *cp = '\b'; return 1;
    case 'f': *cp = '\f'; return 1;
    case 'v': *cp = '\v'; return 1;
    case '\\':
    case '\'':
    case '"':
    case '?': *cp = (unsigned char)*p; return 1;
    case 'x':
    case 'X': {
        size_t i = 1;
        uint32_t v = 0;
        while (i < 3 && p + i < end && hex_value(p[i]) >= 0)
            v = v * 16 + (uint32_t)hex_value(p[i++]);
        if (i == 1)
            return 0;
        *cp = v;
        return i;
    }
    case 'u':
    case 'U': {
        size_t want = *p == 'u' ? 4 : 8;
        uint32_t v = 0;
        for (size_t i = 1; i <= want; i++) {
            if (p + i >= end || hex_value(p[i]) < 0)
                return 0;
            v = v * 16 + (uint32_t)hex_value(p[i]);
        }
        if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
            return 0;
        *cp = v;
        *is_char = true;
        return want + 1;
    }
    default:
        if (*p >= '0' && *p <= '7') {
            size_t i = 0;
            uint32_t v = 0;
            while (i < 3 && p + i < end && p[i] >= '0' && p[i] <= '7')
                v = v * 8 + (uint32_t)(p[i++] - '0');
            if (v > 0xff)
                return 0;
            *cp = v;
            return i;
        }
        return 0;
    }
}

/* Writes code point cp as UTF-8 into out (if not NULL); returns the byte count. */
static size_t utf8_put(uint32_t cp, char *out)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xc0 | cp >> 6);
        b[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xe0 | cp >> 12);
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xf0 | cp >> 18);
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    if (out)
        memcpy(out, b, n);
    return n;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return false;
        }
        if (len - i < n || s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k < n; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        i += n;
    }
    return true;
}

/* Lexes a quoted literal starting at the quote. Escapes are checked here, so decoding
 * later cannot fail on syntax. */
static inferd_status_t lex_string(parser_t *ps)
{
    char quote = *ps->p;
    int line = ps->line, col = ps->col;
    lex_step(ps);
    for (;;) {
        if (ps->p >= ps->end || *ps->p == '\n')
            return fail_at(ps, line, col, "unterminated string");
        char c = *ps->p;
        if (c == quote) {
            lex_step(ps);
            return INFERD_OK;
        }
        if (c == '\0')
            return fail_at(ps, ps->line, ps->col, "NUL byte in string");
        if (c != '\\') {
            lex_step(ps);
            continue;
        }
        uint32_t cp;
        bool is_char;
        size_t used = escape_scan(ps->p + 1, ps->end, &cp, &is_char);
        if (used == 0) {
            char shown = ps->p + 1 < ps->end ? ps->p[1] : ' ';
            return fail_at(ps, ps->line, ps->col, "invalid escape '\\%c' in string",
                           shown >= 0x20 && shown < 0x7f ? shown : '?');
        }
        if (cp == 0)
            return fail_at(ps, ps->line, ps->col, "NUL byte in string");
        for (size_t i = 0; i <= used; i++)
            lex_step(ps);
    }
}

/* Moves the lookahead to the next token, skipping whitespace and # comments. */
static inferd_status_t advance(parser_t *ps)
{
    for (;;) {
        while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
                                   *ps->p == '\r' || *ps->p == '\f' || *ps->p == '\v'))
            lex_step(ps);
        if (ps->p < ps->end && *ps->p == '#') {
            while (ps->p < ps->end && *ps->p != '\n')
                lex_step(ps);
            continue;
        }
        break;
    }
    tok_t *t = &ps->tok;
    t->s = ps->p;
    t->line = ps->line;
    t->col = ps->col;
    if (ps->p >= ps->end) {
        t->kind = TOK_EOF;
        t->n = 0;
        return INFERD_OK;
    }
    char c = *ps->p;
    if (is_ident_start(c)) {
        t->kind = TOK_IDENT;
        while (ps->p < ps->end && is_ident_char(*ps->p))
            lex_step(ps);
    } else if (is_digit(c) || ((c == '-' || c == '.') && ps->p + 1 < ps->end &&
                               (is_digit(ps->p[1]) || ps->p[1] == '.'))) {
        /* Take the longest run that could belong to a number (1e-5, 0x1f, 2.5f); the
         * reader that wants a value decides whether the text is acceptable. */
        t->kind = TOK_NUMBER;
        lex_step(ps);
        while (ps->p < ps->end) {
            char d = *ps->p;
            bool sign_after_exp = (d == '+' || d == '-') && (ps->p[-1] == 'e' || ps->p[-1] == 'E');
            if (!is_ident_char(d) && d != '.' && !sign_after_exp)
                break;
            lex_step(ps);
        }
    } else if (c == '"' || c == '\'') {
        t->kind = TOK_STRING;
        inferd_status_t st = lex_string(ps);
        if (st != INFERD_OK)
            return st;
    } else if (strchr("{}[]<>:,;", c)) {
        t->kind = TOK_PUNCT;
        lex_step(ps);
    } else {
        unsigned char u = (unsigned char)c;
        if (u >= 0x20 && u < 0x7f)
            return fail_at(ps, ps->line, ps->col, "unexpected character '%c'", c);
        return fail_at(ps, ps->line, ps->col, "unexpected byte 0x%02x", u);
    }
    t->n = (size_t)(ps->p - t->s);
    return INFERD_OK;
}

static bool tok_is(const tok_t *t, char punct)
{
    return t->kind == TOK_PUNCT && t->s[0] == punct;
}

static bool tok_is_word(const tok_t *t, const char *word)
{
    return t->kind == TOK_IDENT && strlen(word) == t->n && memcmp(t->s, word, t->n) == 0;
}

static inferd_status_t expect_punct(parser_t *ps, char punct, const char *what)
{
    if (!tok_is(&ps->tok, punct)) {
        char buf[64];
        return fail_tok(ps, &ps->tok, "expected '%c' %s, found %s", punct, what,
                        tok_describe(&ps->tok, buf, sizeof(buf)));
    }
    return advance(ps);
}

/* ------------------------------------------------------------------------------------ */
/* Value readers                                                                        */
/*                                                                                      */
/* Each is called with the field name already consumed (passed as `name` for messages  */
/* and positions) and the lookahead on what follows it.                                */

/* Scalars need `name: value`; the colon is optional only before a message or a list. */
static inferd_status_t expect_colon(parser_t *ps, const tok_t *name)
{
    if (tok_is(&ps->tok, ':'))
        return advance(ps);
    char buf[64];
    return fail_tok(ps, &ps->tok, "expected ':' after '%.*s', found %s", (int)name->n, name->s,
                    tok_describe(&ps->tok, buf, sizeof(buf)));
}

/* Reads one string value (adjacent literals are joined, as protobuf does) into a new
 * heap string in *out, replacing what was there. */
static inferd_status_t read_string_value(parser_t *ps, const tok_t *name, char **out)
{
    if (ps->tok.kind != TOK_STRING) {
        char buf[64];
        return fail_tok(ps, &ps->tok, "'%.*s' expects a string, found %s", (int)name->n, name->s,
                        tok_describe(&ps->tok, buf, sizeof(buf)));
    }
    tok_t first = ps->tok;
    char *s = inferd_xmalloc(CONFIG_MAX_STRING + 1);
    size_t len = 0;
    while (ps->tok.kind == TOK_STRING) {
        const char *p = ps->tok.s + 1, *end = ps->tok.s + ps->tok.n - 1;
        while (p < end) {
            char piece[4];
            size_t n;
            if (*p == '\\') {
                uint32_t cp;
                bool is_char;
                size_t used = escape_scan(p + 1, end, &cp, &is_char);
                p += 1 + used;
                if (is_char) {
                    n = utf8_put(cp, piece);
                } else {
                    piece[0] = (char)cp;
                    n = 1;
                }
            } else {
                piece[0] = *p++;
                n = 1;
            }
            if (len + n > CONFIG_MAX_STRING) {
                inferd_free(s);
                return fail_tok(ps, &first, "string is longer than %d bytes", CONFIG_MAX_STRING);
            }
            memcpy(s + len, piece, n);
            len += n;
        }
        inferd_status_t st = advance(ps);
        if (st != INFERD_OK) {
            inferd_free(s);
            return st;
        }
    }
    /* Names and values end up in JSON responses, which must be valid UTF-8. */
    if (!utf8_valid((const unsigned char *)s, len)) {
        inferd_free(s);
        return fail_tok(ps, &first, "string is not valid UTF-8");
    }
    inferd_free(*out);
    *out = inferd_xstrndup(s, len);
    inferd_free(s);
    return INFERD_OK;
}

static inferd_status_t read_string(parser_t *ps, const tok_t *name, char **out)
{
    inferd_status_t st = expect_colon(ps, name);
    return st != INFERD_OK ? st : read_string_value(ps, name, out);
}

/* Reads a decimal integer token into *out, checking [lo, hi]. Octal (leading zero) and
 * hex forms are refused rather than guessed at. */
static inferd_status_t read_int_value(parser_t *ps, const tok_t *name, int64_t lo, int64_t hi,
                                      int64_t *out)
{
    const tok_t *t = &ps->tok;
    char buf[64];
    if (t->kind != TOK_NUMBER)
        return fail_tok(ps, t, "'%.*s' expects an integer, found %s", (int)name->n, name->s,
                        tok_describe(t, buf, sizeof(buf)));
    bool neg = t->s[0] == '-';
    size_t i = neg ? 1 : 0;
    if (i >= t->n)
        return fail_tok(ps, t, "'%.*s' expects an integer, found %s", (int)name->n, name->s,
                        tok_describe(t, buf, sizeof(buf)));
    if (t->s[i] == '0' && t->n > i + 1 && is_digit(t->s[i + 1]))
        return fail_tok(ps, t, "integer %s has a leading zero (octal is not accepted)",
                        tok_describe(t, buf, sizeof(buf)));
    uint64_t mag = 0;
    bool overflow = false;
    for (; i < t->n; i++) {
        if (!is_digit(t->s[i]))
            return fail_tok(ps, t, "'%.*s' expects an integer, found %s", (int)name->n, name->s,
                            tok_describe(t, buf, sizeof(buf)));
        unsigned d = (unsigned)(t->s[i] - '0');
        if (mag > (UINT64_MAX - d) / 10)
            overflow = true;
        else
            mag = mag * 10 + d;
    }
    /* The range check below works on int64_t, which covers every field but the uint64
     * ones; those are bounded by INT64_MAX, far beyond any useful microsecond count. */
    int64_t v = 0;
    if (!overflow && !neg && mag <= (uint64_t)INT64_MAX)
        v = (int64_t)mag;
    else if (!overflow && neg && mag <= (uint64_t)INT64_MAX + 1)
        v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    else
        overflow = true;
    if (overflow || v < lo || v > hi)
        return fail_tok(ps, t, "'%.*s' value %s is out of range [%lld, %lld]", (int)name->n,
                        name->s, tok_describe(t, buf, sizeof(buf)), (long long)lo, (long long)hi);
    *out = v;
    return advance(ps);
}

static inferd_status_t read_int(parser_t *ps, const tok_t *name, int64_t lo, int64_t hi,
                                int64_t *out)
{
    inferd_status_t st = expect_colon(ps, name);
    return st != INFERD_OK ? st : read_int_value(ps, name, lo, hi, out);
}

/* Accepts what protobuf's text parser accepts for bool: true/false, True/False, t/f, 1/0. */
static inferd_status_t read_bool(parser_t *ps, const tok_t *name, bool *out)
{
    inferd_status_t st = expect_colon(ps, name);
    if (st != INFERD_OK)
        return st;
    const tok_t *t = &ps->tok;
    if (tok_is_word(t, "true") || tok_is_word(t, "True") || tok_is_word(t, "t") ||
        (t->kind == TOK_NUMBER && t->n == 1 && t->s[0] == '1')) {
        *out = true;
    } else if (tok_is_word(t, "false") || tok_is_word(t, "False") || tok_is_word(t, "f") ||
               (t->kind == TOK_NUMBER && t->n == 1 && t->s[0] == '0')) {
        *out = false;
    } else {
        char buf[64];
        return fail_tok(ps, t, "'%.*s' expects true or false, found %s", (int)name->n, name->s,
                        tok_describe(t, buf, sizeof(buf)));
    }
    return advance(ps);
}

/* An enum by name, or by number as protobuf also allows. names[i] is value i (NULL for
 * a gap). */
static inferd_status_t read_enum(parser_t *ps, const tok_t *name, const char *const *names,
                                 int n_names, int *out)
{
    inferd_status_t st = expect_colon(ps, name);
    if (st != INFERD_OK)
        return st;
    const tok_t *t = &ps->tok;
    if (t->kind == TOK_NUMBER) {
        int64_t v;
        tok_t at = *t;
        st = read_int_value(ps, name, 0, n_names - 1, &v);
        if (st != INFERD_OK)
            return st;
        if (!names[v])
            return fail_tok(ps, &at, "'%.*s' has no value %lld", (int)name->n, name->s,
                            (long long)v);
        *out = (int)v;
        return INFERD_OK;
    }
    if (t->kind == TOK_IDENT) {
        for (int i = 0; i < n_names; i++) {
            if (names[i] && tok_is_word(t, names[i])) {
                *out = i;
                return advance(ps);
            }
        }
        return fail_tok(ps, t, "'%.*s' has no value '%.*s'", (int)name->n, name->s,
                        t->n > 40 ? 40 : (int)t->n, t->s);
    }
    char buf[64];
    return fail_tok(ps, t, "'%.*s' expects an enum name, found %s", (int)name->n, name->s,
                    tok_describe(t, buf, sizeof(buf)));
}

/* Receives one element of a repeated integer field; checks its own limits. */
typedef inferd_status_t (*int_sink_fn)(parser_t *ps, void *obj, int64_t v, const tok_t *at);

/* A repeated integer field: `name: [a, b]`, `name [a, b]` or one `name: a` per element. */
static inferd_status_t read_int_list(parser_t *ps, const tok_t *name, int64_t lo, int64_t hi,
                                     int_sink_fn sink, void *obj)
{
    inferd_status_t st;
    bool colon = tok_is(&ps->tok, ':');
    if (colon && (st = advance(ps)) != INFERD_OK)
        return st;
    if (!tok_is(&ps->tok, '[')) {
        if (!colon)
            return expect_colon(ps, name);
        tok_t at = ps->tok;
        int64_t v;
        st = read_int_value(ps, name, lo, hi, &v);
        return st != INFERD_OK ? st : sink(ps, obj, v, &at);
    }
    tok_t open = ps->tok;
    if ((st = advance(ps)) != INFERD_OK)
        return st;
    if (tok_is(&ps->tok, ']'))
        return advance(ps);
    for (;;) {
        tok_t at = ps->tok;
        int64_t v;
        if ((st = read_int_value(ps, name, lo, hi, &v)) != INFERD_OK ||
            (st = sink(ps, obj, v, &at)) != INFERD_OK)
            return st;
        if (tok_is(&ps->tok, ']'))
            return advance(ps);
        if (!tok_is(&ps->tok, ',')) {
            char buf[64];
            return fail_tok(ps, &ps->tok,
                            "expected ',' or ']' in the list opened at %d:%d, found %s", open.line,
                            open.col, tok_describe(&ps->tok, buf, sizeof(buf)));
        }
        if ((st = advance(ps)) != INFERD_OK)
            return st;
    }
}

/* ------------------------------------------------------------------------------------ */
/* Messages                                                                             */

typedef enum {
    FIELD_SINGLE,      /* may appear once */
    FIELD_REPEATED,    /* may appear any number of times */
    FIELD_UNSUPPORTED, /* a Triton field inferd does not implement: refused by name */
} field_kind_t;

typedef struct field_def {
    const char *name;
    field_kind_t kind;
} field_def_t;

typedef inferd_status_t (*field_fn)(parser_t *ps, void *obj, int field, const tok_t *name);

typedef struct msg_def {
    const char *what; /* for messages: "" at top level, else " in 'input'" */
    const field_def_t *fields;
    int n_fields;      /* at most 64, for the seen mask */
    field_fn on_field; /* reads the value of fields[field] into obj */
} msg_def_t;

#define COUNT_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static inferd_status_t parse_body(parser_t *ps, const msg_def_t *m, void *obj, char close,
                                  const tok_t *open);

/* Enters one level of nesting at token t. */
static inferd_status_t nest_enter(parser_t *ps, const tok_t *t)
{
    if (++ps->depth > CONFIG_MAX_DEPTH)
        return fail_tok(ps, t, "nesting deeper than %d levels", CONFIG_MAX_DEPTH);
    return INFERD_OK;
}

/* A message value: `name { ... }`, `name: { ... }` or the angle-bracket form. */
static inferd_status_t read_message(parser_t *ps, const tok_t *name, const msg_def_t *m, void *obj)
{
    inferd_status_t st;
    if (tok_is(&ps->tok, ':') && (st = advance(ps)) != INFERD_OK)
        return st;
    if (!tok_is(&ps->tok, '{') && !tok_is(&ps->tok, '<')) {
        char buf[64];
        return fail_tok(ps, &ps->tok, "'%.*s' expects a message '{ ... }', found %s", (int)name->n,
                        name->s, tok_describe(&ps->tok, buf, sizeof(buf)));
    }
    tok_t open = ps->tok;
    char close = open.s[0] == '{' ? '}' : '>';
    if ((st = nest_enter(ps, &open)) != INFERD_OK || (st = advance(ps)) != INFERD_OK)
        return st;
    st = parse_body(ps, m, obj, close, &open);
    ps->depth--;
    return st;
}

/* Creates the next element of a repeated message field, or fails when the list is full. */
typedef inferd_status_t (*elem_add_fn)(parser_t *ps, const tok_t *at, void **elem);
/* Checks an element once its body has been read. */
typedef inferd_status_t (*elem_end_fn)(parser_t *ps, void *elem, const tok_t *open);

static inferd_status_t read_one_elem(parser_t *ps, const tok_t *name, const msg_def_t *m,
                                     elem_add_fn add, elem_end_fn end)
{
    tok_t open = ps->tok;
    void *elem;
    inferd_status_t st = add(ps, &open, &elem);
    if (st == INFERD_OK)
        st = read_message(ps, name, m, elem);
    if (st == INFERD_OK && end)
        st = end(ps, elem, &open);
    return st;
}

/* A repeated message field: `name { }` per element, or `name [ { }, { } ]`. */
static inferd_status_t read_message_list(parser_t *ps, const tok_t *name, const msg_def_t *m,
                                         elem_add_fn add, elem_end_fn end)
{
    inferd_status_t st;
    if (tok_is(&ps->tok, ':') && (st = advance(ps)) != INFERD_OK)
        return st;
    if (!tok_is(&ps->tok, '['))
        return read_one_elem(ps, name, m, add, end);
    tok_t open = ps->tok;
    if ((st = nest_enter(ps, &open)) != INFERD_OK || (st = advance(ps)) != INFERD_OK)
        return st;
    if (tok_is(&ps->tok, ']')) {
        ps->depth--;
        return advance(ps);
    }
    for (;;) {
        if ((st = read_one_elem(ps, name, m, add, end)) != INFERD_OK)
            return st;
        if (tok_is(&ps->tok, ']'))
            break;
        if (!tok_is(&ps->tok, ',')) {
            char buf[64];
            return fail_tok(ps, &ps->tok,
                            "expected ',' or ']' in the list opened at %d:%d, found %s", open.line,
                            open.col, tok_describe(&ps->tok, buf, sizeof(buf)));
        }
        if ((st = advance(ps)) != INFERD_OK)
            return st;
    }
    ps->depth--;
    return advance(ps);
}

static inferd_status_t skip_body(parser_t *ps, char close, const tok_t *open);

/* Skips one scalar or message value, checking its syntax. */
static inferd_status_t skip_elem(parser_t *ps)
{
    const tok_t *t = &ps->tok;
    char buf[64];
    if (tok_is(t, '{') || tok_is(t, '<')) {
        tok_t open = *t;
        inferd_status_t st;
        if ((st = nest_enter(ps, &open)) != INFERD_OK || (st = advance(ps)) != INFERD_OK)
            return st;
        st = skip_body(ps, open.s[0] == '{' ? '}' : '>', &open);
        ps->depth--;
        return st;
    }
    if (t->kind == TOK_IDENT || t->kind == TOK_NUMBER)
        return advance(ps);
    if (t->kind == TOK_STRING) {
        while (ps->tok.kind == TOK_STRING) {
            inferd_status_t st = advance(ps);
            if (st != INFERD_OK)
                return st;
        }
        return INFERD_OK;
    }
    return fail_tok(ps, t, "expected a value, found %s", tok_describe(t, buf, sizeof(buf)));
}

/* Skips the value of a field whose meaning inferd ignores (any scalar, message or list). */
static inferd_status_t skip_value(parser_t *ps, const tok_t *name)
{
    inferd_status_t st;
    bool colon = tok_is(&ps->tok, ':');
    if (colon && (st = advance(ps)) != INFERD_OK)
        return st;
    if (tok_is(&ps->tok, '[')) {
        tok_t open = ps->tok;
        if ((st = nest_enter(ps, &open)) != INFERD_OK || (st = advance(ps)) != INFERD_OK)
            return st;
        if (!tok_is(&ps->tok, ']')) {
            for (;;) {
                if ((st = skip_elem(ps)) != INFERD_OK)
                    return st;
                if (tok_is(&ps->tok, ']'))
                    break;
                if ((st = expect_punct(ps, ',', "or ']' in a list")) != INFERD_OK)
                    return st;
            }
        }
        ps->depth--;
        return advance(ps);
    }
    if (!colon && !tok_is(&ps->tok, '{') && !tok_is(&ps->tok, '<'))
        return expect_colon(ps, name);
    return skip_elem(ps);
}

static inferd_status_t skip_body(parser_t *ps, char close, const tok_t *open)
{
    for (;;) {
        inferd_status_t st;
        while (tok_is(&ps->tok, ',') || tok_is(&ps->tok, ';'))
            if ((st = advance(ps)) != INFERD_OK)
                return st;
        if (tok_is(&ps->tok, close))
            return advance(ps);
        if (ps->tok.kind == TOK_EOF)
            return fail_tok(ps, &ps->tok,
                            "expected '%c' to close the '%c' at %d:%d, found end of input", close,
                            open->s[0], open->line, open->col);
        if (ps->tok.kind != TOK_IDENT) {
            char buf[64];
            return fail_tok(ps, &ps->tok, "expected a field name, found %s",
                            tok_describe(&ps->tok, buf, sizeof(buf)));
        }
        tok_t name = ps->tok;
        if ((st = advance(ps)) != INFERD_OK || (st = skip_value(ps, &name)) != INFERD_OK)
            return st;
    }
}

/* Reads fields until `close` (0 at top level: until end of input). */
static inferd_status_t parse_body(parser_t *ps, const msg_def_t *m, void *obj, char close,
                                  const tok_t *open)
{
    uint64_t seen = 0;
    for (;;) {
        inferd_status_t st;
        while (tok_is(&ps->tok, ',') || tok_is(&ps->tok, ';'))
            if ((st = advance(ps)) != INFERD_OK)
                return st;
        if (close && tok_is(&ps->tok, close))
            return advance(ps);
        if (ps->tok.kind == TOK_EOF) {
            if (!close)
                return INFERD_OK;
            return fail_tok(ps, &ps->tok,
                            "expected '%c' to close the '%c' at %d:%d, found end of input", close,
                            open->s[0], open->line, open->col);
        }
        if (ps->tok.kind != TOK_IDENT) {
            char buf[64];
            return fail_tok(ps, &ps->tok, "expected a field name%s, found %s", m->what,
                            tok_describe(&ps->tok, buf, sizeof(buf)));
        }
        tok_t name = ps->tok;
        int field = -1;
        for (int i = 0; i < m->n_fields; i++) {
            if (tok_is_word(&name, m->fields[i].name)) {
                field = i;
                break;
            }
        }
        int shown = name.n > 64 ? 64 : (int)name.n;
        if (field < 0)
            return fail_tok(ps, &name, "unknown field '%.*s'%s", shown, name.s, m->what);
        if (m->fields[field].kind == FIELD_UNSUPPORTED)
            return fail_tok(ps, &name, "field '%.*s'%s is not supported by inferd", shown, name.s,
                            m->what);
        if (m->fields[field].kind == FIELD_SINGLE) {
            if (seen & (UINT64_C(1) << field))
                return fail_tok(ps, &name, "field '%.*s'%s is given more than once", shown, name.s,
                                m->what);
            seen |= UINT64_C(1) << field;
        }
        if ((st = advance(ps)) != INFERD_OK ||
            (st = m->on_field(ps, obj, field, &name)) != INFERD_OK)
            return st;
    }
}

/* ------------------------------------------------------------------------------------ */
/* The ModelConfig schema (the subset inferd reads)                                     */

static const char *const datatype_names[] = {
    "TYPE_INVALID", "TYPE_BOOL", "TYPE_UINT8", "TYPE_UINT16", "TYPE_UINT32",
    "TYPE_UINT64",  "TYPE_INT8", "TYPE_INT16", "TYPE_INT32",  "TYPE_INT64",
    "TYPE_FP16",    "TYPE_FP32", "TYPE_FP64",  "TYPE_STRING", "TYPE_BF16",
};
static const char *const format_names[] = {"FORMAT_NONE", "FORMAT_NHWC", "FORMAT_NCHW"};
static const char *const kind_names[] = {"KIND_AUTO", "KIND_GPU", "KIND_CPU", "KIND_MODEL"};
static const char *const timeout_action_names[] = {"REJECT", "DELAY"};

/* The proto's Kind numbering (AUTO, GPU, CPU, MODEL) differs from inferd's enum. */
static const inferd_instance_kind_t kind_from_proto[] = {
    INFERD_INSTANCE_KIND_AUTO, INFERD_INSTANCE_KIND_GPU, INFERD_INSTANCE_KIND_CPU,
    INFERD_INSTANCE_KIND_MODEL};

static const char *kind_name(inferd_instance_kind_t k)
{
    switch (k) {
    case INFERD_INSTANCE_KIND_AUTO: return "KIND_AUTO";
    case INFERD_INSTANCE_KIND_CPU: return "KIND_CPU";
    case INFERD_INSTANCE_KIND_GPU: return "KIND_GPU";
    case INFERD_INSTANCE_KIND_MODEL: return "KIND_MODEL";
    }
    return "KIND_AUTO";
}

/* --- reshape { shape } --- */

typedef struct reshape_target {
    int *ndim;
    int64_t *dims;
} reshape_target_t;

static inferd_status_t sink_dim(parser_t *ps, int *ndim, int64_t *dims, int64_t v, const tok_t *at,
                                const char *what)
{
    if (v == 0 || v < -1)
        return fail_tok(ps, at,
                        "%s value %lld is invalid (each is >= 1, or -1 for a variable size)", what,
                        (long long)v);
    if (*ndim >= INFERD_MAX_DIMS)
        return fail_tok(ps, at, "too many %s (at most %d)", what, INFERD_MAX_DIMS);
    dims[(*ndim)++] = v;
    return INFERD_OK;
}

static inferd_status_t sink_reshape(parser_t *ps, void *obj, int64_t v, const tok_t *at)
{
    inferd_model_io_t *io = obj;
    return sink_dim(ps, &io->reshape_ndim, io->reshape, v, at, "reshape dims");
}

enum { RESHAPE_SHAPE };
static const field_def_t reshape_fields[] = {[RESHAPE_SHAPE] = {"shape", FIELD_REPEATED}};

static inferd_status_t reshape_field(parser_t *ps, void *obj, int field, const tok_t *name)
{
    (void)field;
    return read_int_list(ps, name, INT64_MIN, INT64_MAX, sink_reshape, obj);
}

static const msg_def_t reshape_def = {" in 'reshape'", reshape_fields, COUNT_OF(reshape_fields),
                                      reshape_field};

/* --- input / output --- */

static inferd_status_t sink_dims(parser_t *ps, void *obj, int64_t v, const tok_t *at)
{
    inferd_model_io_t *io = obj;
    return sink_dim(ps, &io->ndim, io->dims, v, at, "dims");
}

enum {
    IO_NAME,
    IO_DATA_TYPE,
    IO_DIMS,
    IO_RESHAPE,
    IO_OPTIONAL,
    IO_FORMAT,
    IO_ALLOW_RAGGED_BATCH,
    IO_IS_SHAPE_TENSOR,
    IO_IS_NON_LINEAR_FORMAT_IO,
    IO_LABEL_FILENAME,
};

static const field_def_t input_fields[] = {
    [IO_NAME] = {"name", FIELD_SINGLE},
    [IO_DATA_TYPE] = {"data_type", FIELD_SINGLE},
    [IO_DIMS] = {"dims", FIELD_REPEATED},
    [IO_RESHAPE] = {"reshape", FIELD_SINGLE},
    [IO_OPTIONAL] = {"optional", FIELD_SINGLE},
    [IO_FORMAT] = {"format", FIELD_SINGLE},
    [IO_ALLOW_RAGGED_BATCH] = {"allow_ragged_batch", FIELD_SINGLE},
    [IO_IS_SHAPE_TENSOR] = {"is_shape_tensor", FIELD_SINGLE},
    [IO_IS_NON_LINEAR_FORMAT_IO] = {"is_non_linear_format_io", FIELD_SINGLE},
};

/* Outputs share the field numbering; the fields an output does not have are given names
 * that cannot match a token, so they read as unknown. */
static const field_def_t output_fields[] = {
    [IO_NAME] = {"name", FIELD_SINGLE},
    [IO_DATA_TYPE] = {"data_type", FIELD_SINGLE},
    [IO_DIMS] = {"dims", FIELD_REPEATED},
    [IO_RESHAPE] = {"reshape", FIELD_SINGLE},
    [IO_OPTIONAL] = {"", FIELD_SINGLE},
    [IO_FORMAT] = {"", FIELD_SINGLE},
    [IO_ALLOW_RAGGED_BATCH] = {"", FIELD_SINGLE},
    [IO_IS_SHAPE_TENSOR] = {"is_shape_tensor", FIELD_SINGLE},
    [IO_IS_NON_LINEAR_FORMAT_IO] = {"is_non_linear_format_io", FIELD_SINGLE},
    [IO_LABEL_FILENAME] = {"label_filename", FIELD_SINGLE},
};

static inferd_status_t io_field(parser_t *ps, void *obj, int field, const tok_t *name)
{
    inferd_model_io_t *io = obj;
    int v = 0;
    bool ignored;
    inferd_status_t st;
    switch (field) {
    case IO_NAME: return read_string(ps, name, &io->name);
    case IO_DATA_TYPE:
        st = read_enum(ps, name, datatype_names, COUNT_OF(datatype_names), &v);
        io->data_type = (inferd_dtype_t)v;
        return st;
    case IO_DIMS: return read_int_list(ps, name, INT64_MIN, INT64_MAX, sink_dims, io);
    case IO_RESHAPE: io->has_reshape = true; return read_message(ps, name, &reshape_def, io);
    case IO_OPTIONAL: return read_bool(ps, name, &io->optional);
    case IO_FORMAT:
        /* Layout hints matter to image backends only; the ONNX graph fixes the layout. */
        return read_enum(ps, name, format_names, COUNT_OF(format_names), &v);
    case IO_ALLOW_RAGGED_BATCH:
    case IO_IS_SHAPE_TENSOR:
    case IO_IS_NON_LINEAR_FORMAT_IO:
        /* Ignoring ragged batching only makes batching stricter (shapes must agree);
         * the other two are TensorRT-only. */
        return read_bool(ps, name, &ignored);
    case IO_LABEL_FILENAME: return read_string(ps, name, &io->label_filename);
    }
    return INFERD_E_INTERNAL;
}

static const msg_def_t input_def = {" in 'input'", input_fields, COUNT_OF(input_fields), io_field};
static const msg_def_t output_def = {" in 'output'", output_fields, COUNT_OF(output_fields),
                                     io_field};

static inferd_status_t add_io(parser_t *ps, const tok_t *at, inferd_model_io_t **arr, size_t *n,
                              void **elem)
{
    if (*n >= CONFIG_MAX_IO)
        return fail_tok(ps, at, "too many entries (at most %d)", CONFIG_MAX_IO);
    *arr = array_push(*arr, n, sizeof(**arr));
    *elem = &(*arr)[*n - 1];
    return INFERD_OK;
}

static inferd_status_t add_input(parser_t *ps, const tok_t *at, void **elem)
{
    return add_io(ps, at, &ps->cfg->inputs, &ps->cfg->n_inputs, elem);
}

static inferd_status_t add_output(parser_t *ps, const tok_t *at, void **elem)
{
    return add_io(ps, at, &ps->cfg->outputs, &ps->cfg->n_outputs, elem);
}

static inferd_status_t io_end(parser_t *ps, const inferd_model_io_t *arr, size_t n,
                              const tok_t *open, const char *what)
{
    const inferd_model_io_t *io = &arr[n - 1];
    if (!io->name || !io->name[0])
        return fail_tok(ps, open, "%s has no 'name'", what);
    for (size_t i = 0; i + 1 < n; i++)
        if (strcmp(arr[i].name, io->name) == 0)
            return fail_tok(ps, open, "%s '%s' is listed twice", what, io->name);
    return INFERD_OK;
}

static inferd_status_t input_end(parser_t *ps, void *elem, const tok_t *open)
{
    (void)elem;
    return io_end(ps, ps->cfg->inputs, ps->cfg->n_inputs, open, "input");
}

static inferd_status_t output_end(parser_t *ps, void *elem, const tok_t *open)
{
    (void)elem;
    return io_end(ps, ps->cfg->outputs, ps->cfg->n_outputs, open, "output");
}

/* --- version_policy --- */

typedef struct policy_ctx {
    inferd_model_config_t *cfg;
    bool chosen; /* latest, all and specific are a oneof */
} policy_ctx_t;

enum { LATEST_NUM_VERSIONS };
static const field_def_t latest_fields[] = {[LATEST_NUM_VERSIONS] = {"num_versions", FIELD_SINGLE}};

static inferd_status_t latest_field(parser_t *ps, void *obj, int field, const tok_t *name)
{
    inferd_model_config_t *cfg = obj;
    int64_t v = 0;
    (void)field;
    inferd_status_t st = read_int(ps, name, 1, UINT32_MAX, &v);
    cfg->latest_num_versions = (uint32_t)v;
    return st;
}

static const msg_def_t latest_def = {" in 'latest'", latest_fields, COUNT_OF(latest_fields),
                                     latest_field};

static inferd_status_t all_field(parser_t *ps, void *obj, int field, const tok_t *name)
{
    (void)ps, (void)obj, (void)field, (void)name;
    return INFERD_E_INTERNAL; /* unreachable: `all` has no fields */
}

static const msg_def_t all_def = {" in 'all'", NULL, 0, all_field};

static inferd_status_t sink_version(parser_t *ps, void *obj, int64_t v, const tok_t *at)
{
    inferd_model_config_t *cfg = obj;
    if (cfg->n_specific_versions >= CONFIG_MAX_LIST)
        return fail_tok(ps, at, "too many versions (at most %d)", CONFIG_MAX_LIST);
    cfg->specific_versions =
        array_push(cfg->specific_versions, &cfg->n_specific_versions, sizeof(int64_t));
    cfg->specific_versions[cfg->n_specific_versions - 1] = v;
    return INFERD_OK;
}

enum { SPECIFIC_VERSIONS };
static const field_def_t specific_fields[] = {[SPECIFIC_VERSIONS] = {"versions", FIELD_REPEATED}};

static inferd_status_t specific_field(parser_t *ps, void *obj, int field, const tok_t *name)
{
    (void)field;
    /* Version directories are positive decimal numbers, so nothing else can match. */
    return read_int_list(ps, name, 1, INT64_MAX, sink_version, obj);
}

static const msg_def_t specific_def = {" in 'specific'", specific_fields, COUNT_OF(specific_fields),
                                       specific_field};

enum { POLICY_LATEST, POLICY_ALL, POLICY_SPECIFIC };
static const field_def_t policy_fields[] = {
    [POLICY_LATEST] = {"latest", FIELD_SINGLE},
    [POLICY_ALL] = {"all", FIELD_SINGLE},
    [POLICY_SPECIFIC] = {"specific", FIELD_SINGLE},
};

static inferd_status_t policy_field(parser_t *ps, void *obj, int field, const tok_t *name)
{
    policy_ctx_t *pc = obj;
    inferd_model_config_t *cfg = pc->cfg;
    if (pc->chosen)
        return fail_tok(ps, name, "'version_policy' takes only one of latest, all, specific");
    pc->chosen = true;
    switch (field) {
    case POLICY_LATEST:
        cfg->version_policy = INFERD_VERSION_POLICY_LATEST;
        cfg->latest_num_versions = 1;
        return read_message(ps, name, &latest_def, cfg);
    case POLICY_ALL:
        cfg->version_policy = INFERD_VERSION_POLICY_ALL;
        return read_message(ps, name, &all_def, cfg);
    case POLICY_SPECIFIC: {
        cfg->version_policy = INFERD_VERSION_POLICY_SPECIFIC;
        tok_t at = *name;
        inferd_status_t st = read_message(ps, name, &specific_def, cfg);
        if (st == INFERD_OK && cfg->n_specific_versions == 0)
            return fail_tok(ps, &at, "'specific' lists no versions");
        return st;
    }
    }
    return INFERD_E_INTERNAL;
}

static const msg_def_t policy_def = {" in 'version_policy'", policy_fields, COUNT_OF(policy_fields),
                                     policy_field};

/* --- instance_group --- */

static inferd_status_t sink_gpu(parser_t *ps, void *obj, int64_t v, const tok_t *at)
{
    int *n_gpus = obj;
    if (++*n_gpus > CONFIG_MAX_LIST)
        return fail_tok(ps, at, "too many gpus (at most %d)", CONFIG_MAX_LIST);
    return INFERD_OK;
}

enum {
    GROUP_NAME,
    GROUP_COUNT,
    GROUP_KIND,
    GROUP_GPUS,
    GROUP_RATE_LIMITER,
    GROUP_SECONDARY_DEVICES,
    GROUP_PROFILE,
    GROUP_PASSIVE,
    GROUP_HOST_POLICY,
};
static const field_def_t group_fields[] = {
    [GROUP_NAME] = {"name", FIELD_SINGLE},
    [GROUP_COUNT] = {"count", FIELD_SINGLE},
    [GROUP_KIND] = {"kind", FIELD_SINGLE},
    [GROUP_GPUS] = {"gpus", FIELD_REPEATED},
    [GROUP_RATE_LIMITER] = {"rate_limiter", FIELD_UNSUPPORTED},
    [GROUP_SECONDARY_DEVICES] = {"secondary_devices", FIELD_UNSUPPORTED},
    [GROUP_PROFILE] = {"profile", FIELD_UNSUPPORTED},
    [GROUP_PASSIVE] = {"passive", FIELD_UNSUPPORTED},
    [GROUP_HOST_POLICY] = {"host_policy", FIELD_UNSUPPORTED},
};

static inferd_status_t group_field(parser_t *ps, void *obj, int field, const tok_t *name)
{
    inferd_instance_group_t *g = obj;
    int64_t v = 0;
    int k = 0;
    int n_gpus = 0;
    inferd_status_t st;
    switch (field) {
    case GROUP_NAME: return read_string(ps, name, &g->name);
    case GROUP_COUNT:
        /* 0 means "the default", as in Triton; completion replaces it. */
        st = read_int(ps, name, 0, CONFIG_MAX_GROUP_COUNT, &v);
        g->count = (int32_t)v;
        return st;
    case GROUP_KIND:
        st = read_enum(ps, name, kind_names, COUNT_OF(kind_names), &k);
        g->kind = kind_from_proto[k];
        return st;
    case GROUP_GPUS:
        /* Accepted so Triton repositories load; every instance runs on the CPU. */
        return read_int_list(ps, name, 0, INT32_MAX, sink_gpu, &n_gpus);
    }
    return INFERD_E_INTERNAL;
}

static const msg_def_t group_def = {" in 'instance_group'", group_fields, COUNT_OF(group_fields),
                                    group_field};

static inferd_status_t add_group(parser_t *ps, const tok_t *at, void **elem)
{
    inferd_model_config_t *cfg = ps->cfg;
    if (cfg->n_instance_groups >= CONFIG_MAX_GROUPS)
        return fail_tok(ps, at, "too many instance groups (at most %d)", CONFIG_MAX_GROUPS);
    cfg->instance_groups =
        array_push(cfg->instance_groups, &cfg->n_instance_groups, sizeof(*cfg->instance_groups));
    *elem = &cfg->instance_groups[cfg->n_instance_groups - 1];
    return INFERD_OK;
}

/* --- dynamic_batching --- */

enum {
    QP_TIMEOUT_ACTION,
    QP_DEFAULT_TIMEOUT_MICROSECONDS,
    QP_ALLOW_TIMEOUT_OVERRIDE,
    QP_MAX_QUEUE_SIZE,
};
static const field_def_t queue_policy_fields[] = {
    [QP_TIMEOUT_ACTION] = {"timeout_action", FIELD_SINGLE},
    [QP_DEFAULT_TIMEOUT_MICROSECONDS] = {"default_timeout_microseconds", FIELD_SINGLE},
    [QP_ALLOW_TIMEOUT_OVERRIDE] = {"allow_timeout_override", FIELD_SINGLE},
    [QP_MAX_QUEUE_SIZE] = {"max_queue_size", FIELD_SINGLE},
};

static inferd_status_t queue_policy_field(parser_t *ps, void *obj, int field, const tok_t *name)
{
    inferd_queue_policy_t *qp = obj;
    int64_t v = 0;
    int k = 0;
    inferd_status_t st;
    switch (field) {
    case QP_TIMEOUT_ACTION:
        st = read_enum(ps, name, timeout_action_names, COUNT_OF(timeout_action_names), &k);
        qp->timeout_action = (inferd_timeout_action_t)k;
        return st;
    case QP_DEFAULT_TIMEOUT_MICROSECONDS:
        st = read_int(ps, name, 0, INT64_MAX, &v);
        qp->default_timeout_microseconds = (uint64_t)v;
        return st;
    case QP_ALLOW_TIMEOUT_OVERRIDE: return read_bool(ps, name, &qp->allow_timeout_override);
    case QP_MAX_QUEUE_SIZE:
        st = read_int(ps, name, 0, UINT32_MAX, &v);
        qp->max_queue_size = (uint32_t)v;
        return st;
    }
    return INFERD_E_INTERNAL;
}

static const msg_def_t queue_policy_def = {" in 'default_queue_policy'", queue_policy_fields,
                                           COUNT_OF(queue_policy_fields), queue_policy_field};

static inferd_status_t sink_preferred(parser_t *ps, void *obj, int64_t v, const tok_t *at)
{
    inferd_dynamic_batching_t *db = obj;
    if (db->n_preferred_batch_size >= CONFIG_MAX_PREFERRED)
        return fail_tok(ps, at, "too many preferred_batch_size values (at most %d)",
                        CONFIG_MAX_PREFERRED);
    db->preferred_batch_size =
        array_push(db->preferred_batch_size, &db->n_preferred_batch_size, sizeof(int64_t));
    db->preferred_batch_size[db->n_preferred_batch_size - 1] = v;
    return INFERD_OK;
}

enum {
    DB_PREFERRED_BATCH_SIZE,
    DB_MAX_QUEUE_DELAY_MICROSECONDS,
    DB_PRESERVE_ORDERING,
    DB_DEFAULT_QUEUE_POLICY,
    DB_PRIORITY_LEVELS,
    DB_DEFAULT_PRIORITY_LEVEL,
    DB_PRIORITY_QUEUE_POLICY,
};
static const field_def_t batching_fields[] = {
    [DB_PREFERRED_BATCH_SIZE] = {"preferred_batch_size", FIELD_REPEATED},
    [DB_MAX_QUEUE_DELAY_MICROSECONDS] = {"max_queue_delay_microseconds", FIELD_SINGLE},
    [DB_PRESERVE_ORDERING] = {"preserve_ordering", FIELD_SINGLE},
    [DB_DEFAULT_QUEUE_POLICY] = {"default_queue_policy", FIELD_SINGLE},
    [DB_PRIORITY_LEVELS] = {"priority_levels", FIELD_UNSUPPORTED},
    [DB_DEFAULT_PRIORITY_LEVEL] = {"default_priority_level", FIELD_UNSUPPORTED},
    [DB_PRIORITY_QUEUE_POLICY] = {"priority_queue_policy", FIELD_UNSUPPORTED},
};

static inferd_status_t batching_field(parser_t *ps, void *obj, int field, const tok_t *name)
{
    inferd_dynamic_batching_t *db = obj;
    int64_t v = 0;
    inferd_status_t st;
    switch (field) {
    case DB_PREFERRED_BATCH_SIZE: return read_int_list(ps, name, 1, INT32_MAX, sink_preferred, db);
    case DB_MAX_QUEUE_DELAY_MICROSECONDS:
        st = read_int(ps, name, 0, INT64_MAX, &v);
        db->max_queue_delay_microseconds = (uint64_t)v;
        return st;
    case DB_PRESERVE_ORDERING: return read_bool(ps, name, &db->preserve_ordering);
    case DB_DEFAULT_QUEUE_POLICY:
        return read_message(ps, name, &queue_policy_def, &db->default_queue_policy);
    }
    return INFERD_E_INTERNAL;
}

static const msg_def_t batching_def = {" in 'dynamic_batching'", batching_fields,
                                       COUNT_OF(batching_fields), batching_field};

/* --- parameters (a map<string, ModelParameter>, written as repeated key/value entries) --- */

enum { PARAM_VALUE_STRING_VALUE };
static const field_def_t param_value_fields[] = {
    [PARAM_VALUE_STRING_VALUE] = {"string_value", FIELD_SINGLE}};

static inferd_status_t param_value_field(parser_t *ps, void *obj, int field, const tok_t *name)
{
    inferd_model_param_t *p = obj;
    (void)field;
    return read_string(ps, name, &p->value);
}

static const msg_def_t param_value_def = {" in 'value'", param_value_fields,
                                          COUNT_OF(param_value_fields), param_value_field};

enum { PARAM_KEY, PARAM_VALUE };
static const field_def_t param_fields[] = {
    [PARAM_KEY] = {"key", FIELD_SINGLE},
    [PARAM_VALUE] = {"value", FIELD_SINGLE},
};

static inferd_status_t param_field(parser_t *ps, void *obj, int field, const tok_t *name)
{
    inferd_model_param_t *p = obj;
    if (field == PARAM_KEY)
        return read_string(ps, name, &p->key);
    return read_message(ps, name, &param_value_def, p);
}

static const msg_def_t param_def = {" in 'parameters'", param_fields, COUNT_OF(param_fields),
                                    param_field};

static inferd_status_t add_param(parser_t *ps, const tok_t *at, void **elem)
{
    inferd_model_config_t *cfg = ps->cfg;
    if (cfg->n_parameters >= CONFIG_MAX_LIST)
        return fail_tok(ps, at, "too many parameters (at most %d)", CONFIG_MAX_LIST);
    cfg->parameters = array_push(cfg->parameters, &cfg->n_parameters, sizeof(*cfg->parameters));
    *elem = &cfg->parameters[cfg->n_parameters - 1];
    return INFERD_OK;
}

/* A key given again replaces the earlier value, as with any protobuf map. */
static inferd_status_t param_end(parser_t *ps, void *elem, const tok_t *open)
{
    inferd_model_config_t *cfg = ps->cfg;
    inferd_model_param_t *p = elem;
    if (!p->key)
        return fail_tok(ps, open, "parameter has no 'key'");
    if (!p->value)
        p->value = inferd_xstrdup("");
    for (size_t i = 0; i + 1 < cfg->n_parameters; i++) {
        if (strcmp(cfg->parameters[i].key, p->key) == 0) {
            inferd_free(cfg->parameters[i].value);
            cfg->parameters[i].value = p->value;
            inferd_free(p->key);
            cfg->n_parameters--;
            break;
        }
    }
    return INFERD_OK;
}

/* --- model_transaction_policy --- */

enum { TP_DECOUPLED };
static const field_def_t txn_fields[] = {[TP_DECOUPLED] = {"decoupled", FIELD_SINGLE}};

static inferd_status_t txn_field(parser_t *ps, void *obj, int field, const tok_t *name)
{
    bool decoupled = false;
    tok_t at = *name;
    (void)obj, (void)field;
    inferd_status_t st = read_bool(ps, name, &decoupled);
    if (st == INFERD_OK && decoupled)
        return fail_tok(ps, &at, "decoupled models are not supported by inferd");
    return st;
}

static const msg_def_t txn_def = {" in 'model_transaction_policy'", txn_fields,
                                  COUNT_OF(txn_fields), txn_field};

/* --- ModelConfig --- */

enum {
    CFG_NAME,
    CFG_PLATFORM,
    CFG_BACKEND,
    CFG_DEFAULT_MODEL_FILENAME,
    CFG_MAX_BATCH_SIZE,
    CFG_INPUT,
    CFG_OUTPUT,
    CFG_VERSION_POLICY,
    CFG_INSTANCE_GROUP,
    CFG_DYNAMIC_BATCHING,
    CFG_PARAMETERS,
    CFG_MODEL_WARMUP,
    CFG_OPTIMIZATION,
    CFG_RESPONSE_CACHE,
    CFG_MODEL_TRANSACTION_POLICY,
    CFG_RUNTIME,
    CFG_BATCH_INPUT,
    CFG_BATCH_OUTPUT,
    CFG_SEQUENCE_BATCHING,
    CFG_ENSEMBLE_SCHEDULING,
    CFG_CC_MODEL_FILENAMES,
    CFG_METRIC_TAGS,
    CFG_MODEL_OPERATIONS,
    CFG_MODEL_REPOSITORY_AGENTS,
    CFG_MODEL_METRICS,
};

static const field_def_t config_fields[] = {
    [CFG_NAME] = {"name", FIELD_SINGLE},
    [CFG_PLATFORM] = {"platform", FIELD_SINGLE},
    [CFG_BACKEND] = {"backend", FIELD_SINGLE},
    [CFG_DEFAULT_MODEL_FILENAME] = {"default_model_filename", FIELD_SINGLE},
    [CFG_MAX_BATCH_SIZE] = {"max_batch_size", FIELD_SINGLE},
    [CFG_INPUT] = {"input", FIELD_REPEATED},
    [CFG_OUTPUT] = {"output", FIELD_REPEATED},
    [CFG_VERSION_POLICY] = {"version_policy", FIELD_SINGLE},
    [CFG_INSTANCE_GROUP] = {"instance_group", FIELD_REPEATED},
    [CFG_DYNAMIC_BATCHING] = {"dynamic_batching", FIELD_SINGLE},
    [CFG_PARAMETERS] = {"parameters", FIELD_REPEATED},
    [CFG_MODEL_WARMUP] = {"model_warmup", FIELD_REPEATED},
    [CFG_OPTIMIZATION] = {"optimization", FIELD_SINGLE},
    [CFG_RESPONSE_CACHE] = {"response_cache", FIELD_SINGLE},
    [CFG_MODEL_TRANSACTION_POLICY] = {"model_transaction_policy", FIELD_SINGLE},
    [CFG_RUNTIME] = {"runtime", FIELD_UNSUPPORTED},
    [CFG_BATCH_INPUT] = {"batch_input", FIELD_UNSUPPORTED},
    [CFG_BATCH_OUTPUT] = {"batch_output", FIELD_UNSUPPORTED},
    [CFG_SEQUENCE_BATCHING] = {"sequence_batching", FIELD_UNSUPPORTED},
    [CFG_ENSEMBLE_SCHEDULING] = {"ensemble_scheduling", FIELD_UNSUPPORTED},
    [CFG_CC_MODEL_FILENAMES] = {"cc_model_filenames", FIELD_UNSUPPORTED},
    [CFG_METRIC_TAGS] = {"metric_tags", FIELD_UNSUPPORTED},
    [CFG_MODEL_OPERATIONS] = {"model_operations", FIELD_UNSUPPORTED},
    [CFG_MODEL_REPOSITORY_AGENTS] = {"model_repository_agents", FIELD_UNSUPPORTED},
    [CFG_MODEL_METRICS] = {"model_metrics", FIELD_UNSUPPORTED},
};

static inferd_status_t config_field(parser_t *ps, void *obj, int field, const tok_t *name)
{
    inferd_model_config_t *cfg = obj;
    int64_t v = 0;
    inferd_status_t st;
    switch (field) {
    case CFG_NAME: return read_string(ps, name, &cfg->name);
    case CFG_PLATFORM: return read_string(ps, name, &cfg->platform);
    case CFG_BACKEND: return read_string(ps, name, &cfg->backend);
    case CFG_DEFAULT_MODEL_FILENAME: return read_string(ps, name, &cfg->default_model_filename);
    case CFG_MAX_BATCH_SIZE:
        st = read_int(ps, name, 0, INT32_MAX, &v);
        cfg->max_batch_size = (int32_t)v;
        cfg->has_max_batch_size = true;
        return st;
    case CFG_INPUT: return read_message_list(ps, name, &input_def, add_input, input_end);
    case CFG_OUTPUT: return read_message_list(ps, name, &output_def, add_output, output_end);
    case CFG_VERSION_POLICY: {
        policy_ctx_t pc = {cfg, false};
        return read_message(ps, name, &policy_def, &pc);
    }
    case CFG_INSTANCE_GROUP: return read_message_list(ps, name, &group_def, add_group, NULL);
    case CFG_DYNAMIC_BATCHING:
        cfg->has_dynamic_batching = true;
        return read_message(ps, name, &batching_def, &cfg->dynamic_batching);
    case CFG_PARAMETERS: return read_message_list(ps, name, &param_def, add_param, param_end);
    case CFG_MODEL_WARMUP:
    case CFG_OPTIMIZATION:
    case CFG_RESPONSE_CACHE:
        /* Accepted and ignored: warmup only delays readiness, and optimization and
         * caching hints change speed, never results. The body must still be well formed. */
        return skip_value(ps, name);
    case CFG_MODEL_TRANSACTION_POLICY: return read_message(ps, name, &txn_def, NULL);
    }
    return INFERD_E_INTERNAL;
}

static const msg_def_t config_def = {"", config_fields, COUNT_OF(config_fields), config_field};

inferd_status_t inferd_model_config_parse(const char *text, size_t len, const char *source,
                                          inferd_model_config_t *cfg, inferd_err_t *err)
{
    if (!text) { /* NULL + 0 is undefined: read no text instead */
        text = "";
        len = 0;
    }
    parser_t ps = {
        .p = text,
        .end = text + len,
        .line = 1,
        .col = 1,
        .source = source ? source : "config.pbtxt",
        .err = err,
        .cfg = cfg,
    };
    inferd_status_t st;
    if (len > CONFIG_MAX_TEXT) {
        st = inferd_err_set(err, INFERD_E_INVALID_ARG,
                            "%s: config is %zu bytes, over the limit of %u", ps.source, len,
                            CONFIG_MAX_TEXT);
    } else {
        st = advance(&ps);
        if (st == INFERD_OK)
            st = parse_body(&ps, &config_def, cfg, 0, NULL);
    }
    if (st != INFERD_OK)
        inferd_model_config_deinit(cfg);
    return st;
}

/* ------------------------------------------------------------------------------------ */
/* Auto-complete and validation                                                         */

static void shape_str(const int64_t *dims, int ndim, char *buf, size_t cap)
{
    size_t n = 0;
    if (ndim < 0) {
        snprintf(buf, cap, "(unknown rank)");
        return;
    }
    n += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? "," : "", (long long)dims[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
}

static bool is_onnx_backend(const char *s)
{
    return s && (strcmp(s, ONNX_BACKEND) == 0 || strcmp(s, "onnx") == 0);
}

static bool is_onnx_platform(const char *s)
{
    return s && (strcmp(s, ONNX_PLATFORM) == 0 || strcmp(s, "onnx_onnxv1") == 0);
}

static bool is_empty(const char *s)
{
    return !s || !*s;
}

static void set_str(char **dst, const char *s)
{
    inferd_free(*dst);
    *dst = inferd_xstrdup(s);
}

/* A model tensor can carry the implicit batch dim only when its first dim is variable. */
static bool io_batchable(const inferd_backend_io_t *io)
{
    return io->ndim >= 1 && io->dims[0] == -1;
}

/* The config entry Triton's ONNX auto-complete writes for a model tensor. */
static void io_from_model(inferd_model_io_t *io, const inferd_backend_io_t *m, bool batching)
{
    io->name = inferd_xstrdup(m->name);
    io->data_type = m->dtype;
    if (m->ndim < 0) {
        /* The model does not say; accept any 1-D shape rather than guess a rank. */
        io->ndim = 1;
        io->dims[0] = -1;
        return;
    }
    int skip = batching ? 1 : 0;
    io->ndim = m->ndim - skip;
    for (int i = 0; i < io->ndim; i++)
        io->dims[i] = m->dims[i + skip];
    if (io->ndim == 0) {
        /* The API has no rank-0 shapes: one element per batch item, reshaped away. */
        io->ndim = 1;
        io->dims[0] = 1;
        io->has_reshape = true;
        io->reshape_ndim = 0;
    }
}

/* Product of dims, split at each -1: Triton's rule for comparing dims with reshape. */
static int dim_segments(const int64_t *dims, int ndim, int64_t *seg)
{
    int n = 0;
    int64_t cur = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] == -1) {
            seg[n++] = cur;
            cur = 1;
        } else {
            cur = cur > INT64_MAX / dims[i] ? INT64_MAX : cur * dims[i];
        }
    }
    seg[n++] = cur;
    return n;
}

/* Checks one config entry on its own: dims, reshape, dtype. */
static inferd_status_t io_check(const inferd_model_io_t *io, const char *what, inferd_err_t *err)
{
    if (is_empty(io->name))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "an %s has no name", what);
    if (io->data_type <= INFERD_DTYPE_INVALID || io->data_type >= INFERD_DTYPE_COUNT_)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "%s '%s' must set data_type", what,
                              io->name);
    if (io->ndim < 1 || io->ndim > INFERD_MAX_DIMS)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "%s '%s' must give 1 to %d dims (a scalar is dims: [1] with "
                              "reshape { shape: [] })",
                              what, io->name, INFERD_MAX_DIMS);
    for (int i = 0; i < io->ndim; i++)
        if (io->dims[i] == 0 || io->dims[i] < -1)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "%s '%s': dim %d is %lld; each dim is >= 1, or -1", what,
                                  io->name, i, (long long)io->dims[i]);
    if (!io->has_reshape)
        return INFERD_OK;
    if (io->reshape_ndim < 0 || io->reshape_ndim > INFERD_MAX_DIMS)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "%s '%s': reshape rank %d is invalid",
                              what, io->name, io->reshape_ndim);
    for (int i = 0; i < io->reshape_ndim; i++)
        if (io->reshape[i] == 0 || io->reshape[i] < -1)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "%s '%s': reshape dim %d is %lld; each is >= 1, or -1", what,
                                  io->name, i, (long long)io->reshape[i]);
    int64_t a[INFERD_MAX_DIMS + 1], b[INFERD_MAX_DIMS + 1];
    int na = dim_segments(io->dims, io->ndim, a);
    int nb = dim_segments(io->reshape, io->reshape_ndim, b);
    bool same = na == nb;
    for (int i = 0; same && i < na; i++)
        same = a[i] == b[i];
    if (!same) {
        char s1[160], s2[160];
        shape_str(io->dims, io->ndim, s1, sizeof(s1));
        shape_str(io->reshape, io->reshape_ndim, s2, sizeof(s2));
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "%s '%s': dims %s and reshape %s do not hold the same number of "
                              "elements",
                              what, io->name, s1, s2);
    }
    return INFERD_OK;
}

/* Checks a config entry against the model tensor of the same name. */
static inferd_status_t io_match(const inferd_model_io_t *io, const inferd_backend_io_t *models,
                                size_t n_models, int32_t max_batch_size, const char *what,
                                inferd_err_t *err)
{
    const inferd_backend_io_t *m = NULL;
    for (size_t i = 0; i < n_models && !m; i++)
        if (strcmp(models[i].name, io->name) == 0)
            m = &models[i];
    if (!m)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "%s '%s' is in the config but the model has no such %s", what,
                              io->name, what);
    if (m->dtype != io->data_type)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "%s '%s': the model's data type is %s but the config says %s", what,
                              io->name, inferd_dtype_config_name(m->dtype),
                              inferd_dtype_config_name(io->data_type));
    if (m->ndim < 0)
        return INFERD_OK;
    /* Compare the shape the model sees: reshape if given, with the batch dim in front. */
    int64_t full[INFERD_MAX_DIMS + 1];
    int n = 0;
    if (max_batch_size > 0)
        full[n++] = -1;
    const int64_t *d = io->has_reshape ? io->reshape : io->dims;
    int nd = io->has_reshape ? io->reshape_ndim : io->ndim;
    for (int i = 0; i < nd; i++)
        full[n++] = d[i];
    bool ok = n == m->ndim;
    for (int i = 0; ok && i < n; i++)
        ok = full[i] == -1 || m->dims[i] == -1 || full[i] == m->dims[i];
    if (!ok) {
        char want[160], got[160];
        shape_str(m->dims, m->ndim, want, sizeof(want));
        shape_str(full, n, got, sizeof(got));
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "%s '%s': the model expects shape %s but the config gives %s%s", what,
                              io->name, want, got, max_batch_size > 0 ? " (batch dim first)" : "");
    }
    return INFERD_OK;
}

static inferd_status_t check_unique(const inferd_model_io_t *ios, size_t n, const char *what,
                                    inferd_err_t *err)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(ios[i].name, ios[j].name) == 0)
                return inferd_err_set(err, INFERD_E_INVALID_ARG, "%s '%s' is listed twice", what,
                                      ios[i].name);
    return INFERD_OK;
}

/* Every model tensor must accept the batch dim when the config asks for batching. */
static inferd_status_t check_batchable(const inferd_backend_io_t *ios, size_t n,
                                       int32_t max_batch_size, const char *what, inferd_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        if (ios[i].ndim < 0 || io_batchable(&ios[i]))
            continue;
        char s[160];
        shape_str(ios[i].dims, ios[i].ndim, s, sizeof(s));
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "max_batch_size is %d but model %s '%s' has shape %s; batching "
                              "needs a variable (-1) first dim on every input and output",
                              (int)max_batch_size, what, ios[i].name, s);
    }
    return INFERD_OK;
}

static inferd_status_t validate(const inferd_model_config_t *cfg, const inferd_backend_io_t *inputs,
                                size_t n_inputs, const inferd_backend_io_t *outputs,
                                size_t n_outputs, inferd_err_t *err)
{
    inferd_status_t st;
    if (cfg->max_batch_size < 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "max_batch_size %d is negative",
                              (int)cfg->max_batch_size);
    if (cfg->n_outputs == 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "the model has no outputs");
    for (size_t i = 0; i < cfg->n_inputs; i++)
        if ((st = io_check(&cfg->inputs[i], "input", err)) != INFERD_OK)
            return st;
    for (size_t i = 0; i < cfg->n_outputs; i++) {
        if ((st = io_check(&cfg->outputs[i], "output", err)) != INFERD_OK)
            return st;
    }
    if ((st = check_unique(cfg->inputs, cfg->n_inputs, "input", err)) != INFERD_OK ||
        (st = check_unique(cfg->outputs, cfg->n_outputs, "output", err)) != INFERD_OK)
        return st;
    if (cfg->max_batch_size > 0 &&
        ((st = check_batchable(inputs, n_inputs, cfg->max_batch_size, "input", err)) != INFERD_OK ||
         (st = check_batchable(outputs, n_outputs, cfg->max_batch_size, "output", err)) !=
             INFERD_OK))
        return st;
    for (size_t i = 0; i < cfg->n_inputs; i++)
        if ((st = io_match(&cfg->inputs[i], inputs, n_inputs, cfg->max_batch_size, "input", err)) !=
            INFERD_OK)
            return st;
    for (size_t i = 0; i < cfg->n_outputs; i++)
        if ((st = io_match(&cfg->outputs[i], outputs, n_outputs, cfg->max_batch_size, "output",
                           err)) != INFERD_OK)
            return st;
    /* The engine needs a value for every graph input; outputs may be a subset. */
    for (size_t i = 0; i < n_inputs; i++) {
        bool found = false;
        for (size_t j = 0; j < cfg->n_inputs && !found; j++)
            found = strcmp(cfg->inputs[j].name, inputs[i].name) == 0;
        if (!found)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "model input '%s' is missing from the config", inputs[i].name);
    }
    if (cfg->has_dynamic_batching) {
        const inferd_dynamic_batching_t *db = &cfg->dynamic_batching;
        for (size_t i = 0; i < db->n_preferred_batch_size; i++)
            if (db->preferred_batch_size[i] < 1 ||
                db->preferred_batch_size[i] > cfg->max_batch_size)
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "preferred_batch_size %lld must be between 1 and "
                                      "max_batch_size (%d)",
                                      (long long)db->preferred_batch_size[i],
                                      (int)cfg->max_batch_size);
    }
    if (cfg->version_policy == INFERD_VERSION_POLICY_LATEST && cfg->latest_num_versions < 1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "version_policy latest needs num_versions >= 1");
    if (cfg->version_policy == INFERD_VERSION_POLICY_SPECIFIC && cfg->n_specific_versions == 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "version_policy specific lists no versions");
    return INFERD_OK;
}

inferd_status_t inferd_model_config_complete(inferd_model_config_t *cfg, const char *model_name,
                                             const inferd_backend_io_t *inputs, size_t n_inputs,
                                             const inferd_backend_io_t *outputs, size_t n_outputs,
                                             int32_t default_max_batch_size, inferd_err_t *err)
{
    inferd_status_t st;
    if (is_empty(cfg->name))
        set_str(&cfg->name, model_name);
    else if (strcmp(cfg->name, model_name) != 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "config name '%s' does not match the model directory '%s'", cfg->name,
                              model_name);

    /* Both spellings of "ONNX" are reported the way Triton reports them. */
    bool onnx = (is_empty(cfg->backend) && is_empty(cfg->platform)) ||
                (is_onnx_backend(cfg->backend) &&
                 (is_empty(cfg->platform) || is_onnx_platform(cfg->platform))) ||
                (is_onnx_platform(cfg->platform) && is_empty(cfg->backend));
    if (onnx) {
        set_str(&cfg->platform, ONNX_PLATFORM);
        set_str(&cfg->backend, ONNX_BACKEND);
        if (is_empty(cfg->default_model_filename))
            set_str(&cfg->default_model_filename, ONNX_DEFAULT_FILENAME);
    }

    /* Triton derives batching and tensors only when the config lacks inputs or outputs. */
    if (cfg->n_inputs == 0 || cfg->n_outputs == 0) {
        bool can_batch = true;
        for (size_t i = 0; i < n_inputs; i++)
            can_batch = can_batch && io_batchable(&inputs[i]);
        for (size_t i = 0; i < n_outputs; i++)
            can_batch = can_batch && io_batchable(&outputs[i]);
        if (can_batch && !cfg->has_max_batch_size && cfg->max_batch_size == 0 &&
            default_max_batch_size > 0)
            cfg->max_batch_size = default_max_batch_size;
        /* A tensor of unknown rank blocks deriving max_batch_size, but when the config
         * asks for batching it is taken at its word for such tensors. */
        if (cfg->max_batch_size > 0 &&
            ((st = check_batchable(inputs, n_inputs, cfg->max_batch_size, "input", err)) !=
                 INFERD_OK ||
             (st = check_batchable(outputs, n_outputs, cfg->max_batch_size, "output", err)) !=
                 INFERD_OK))
            return st;
        if (cfg->max_batch_size > 1 && !cfg->has_dynamic_batching)
            cfg->has_dynamic_batching = true;
        bool batching = cfg->max_batch_size > 0;
        if (cfg->n_inputs == 0) {
            for (size_t i = 0; i < n_inputs; i++) {
                cfg->inputs = array_push(cfg->inputs, &cfg->n_inputs, sizeof(*cfg->inputs));
                io_from_model(&cfg->inputs[i], &inputs[i], batching);
            }
        }
        if (cfg->n_outputs == 0) {
            for (size_t i = 0; i < n_outputs; i++) {
                cfg->outputs = array_push(cfg->outputs, &cfg->n_outputs, sizeof(*cfg->outputs));
                io_from_model(&cfg->outputs[i], &outputs[i], batching);
            }
        }
    }

    /* inferd runs every instance on the CPU, so AUTO and GPU groups become CPU groups. */
    if (cfg->n_instance_groups == 0) {
        cfg->instance_groups = array_push(cfg->instance_groups, &cfg->n_instance_groups,
                                          sizeof(*cfg->instance_groups));
        cfg->instance_groups[0].kind = INFERD_INSTANCE_KIND_CPU;
    }
    for (size_t i = 0; i < cfg->n_instance_groups; i++) {
        inferd_instance_group_t *g = &cfg->instance_groups[i];
        if (g->kind == INFERD_INSTANCE_KIND_AUTO || g->kind == INFERD_INSTANCE_KIND_GPU)
            g->kind = INFERD_INSTANCE_KIND_CPU;
        if (g->count < 1)
            g->count = g->kind == INFERD_INSTANCE_KIND_CPU && is_onnx_backend(cfg->backend)
                           ? ONNX_DEFAULT_CPU_COUNT
                           : 1;
        if (is_empty(g->name)) {
            /* Triton names unnamed groups <model>_<group index>. */
            size_t cap = strlen(cfg->name) + 24;
            inferd_free(g->name);
            g->name = inferd_xmalloc(cap);
            snprintf(g->name, cap, "%s_%zu", cfg->name, i);
        }
    }
    return validate(cfg, inputs, n_inputs, outputs, n_outputs, err);
}

int32_t inferd_model_config_instance_count(const inferd_model_config_t *cfg)
{
    int64_t total = 0;
    for (size_t i = 0; i < cfg->n_instance_groups; i++)
        total += cfg->instance_groups[i].count > 0 ? cfg->instance_groups[i].count : 1;
    if (total < 1)
        total = 1;
    return total > INT32_MAX ? INT32_MAX : (int32_t)total;
}

/* ------------------------------------------------------------------------------------ */
/* JSON                                                                                 */

static void json_key(inferd_buf_t *out, const char *key)
{
    inferd_buf_append_json_str(out, key, strlen(key));
    inferd_buf_append_char(out, ':');
}

static void json_str(inferd_buf_t *out, const char *s)
{
    s = s ? s : "";
    inferd_buf_append_json_str(out, s, strlen(s));
}

static void json_bool(inferd_buf_t *out, bool v)
{
    inferd_buf_append_str(out, v ? "true" : "false");
}

static void json_dims(inferd_buf_t *out, const int64_t *dims, size_t n)
{
    inferd_buf_append_char(out, '[');
    for (size_t i = 0; i < n; i++)
        inferd_buf_printf(out, "%s%lld", i ? "," : "", (long long)dims[i]);
    inferd_buf_append_char(out, ']');
}

static void json_io(inferd_buf_t *out, const inferd_model_io_t *io, bool input)
{
    inferd_buf_append_char(out, '{');
    json_key(out, "name");
    json_str(out, io->name);
    inferd_buf_append_str(out, ",\"data_type\":");
    json_str(out, inferd_dtype_config_name(io->data_type));
    if (input)
        inferd_buf_append_str(out, ",\"format\":\"FORMAT_NONE\"");
    inferd_buf_append_str(out, ",\"dims\":");
    json_dims(out, io->dims, (size_t)(io->ndim > 0 ? io->ndim : 0));
    if (io->has_reshape) {
        inferd_buf_append_str(out, ",\"reshape\":{\"shape\":");
        json_dims(out, io->reshape, (size_t)(io->reshape_ndim > 0 ? io->reshape_ndim : 0));
        inferd_buf_append_char(out, '}');
    }
    if (input) {
        inferd_buf_append_str(out, ",\"is_shape_tensor\":false,\"allow_ragged_batch\":false,"
                                   "\"optional\":");
        json_bool(out, io->optional);
    } else {
        inferd_buf_append_str(out, ",\"label_filename\":");
        json_str(out, io->label_filename);
        inferd_buf_append_str(out, ",\"is_shape_tensor\":false");
    }
    inferd_buf_append_str(out, ",\"is_non_linear_format_io\":false}");
}

void inferd_model_config_to_json(const inferd_model_config_t *cfg, inferd_buf_t *out)
{
    /* Field order and the always-present defaults follow Triton's rendering, so clients
     * that diff configs see what they would see from Triton. */
    inferd_buf_append_char(out, '{');
    json_key(out, "name");
    json_str(out, cfg->name);
    inferd_buf_append_str(out, ",\"platform\":");
    json_str(out, cfg->platform);
    inferd_buf_append_str(out, ",\"backend\":");
    json_str(out, cfg->backend);
    inferd_buf_append_str(out, ",\"runtime\":\"\",\"version_policy\":");
    switch (cfg->version_policy) {
    case INFERD_VERSION_POLICY_LATEST:
        inferd_buf_printf(out, "{\"latest\":{\"num_versions\":%u}}",
                          (unsigned)cfg->latest_num_versions);
        break;
    case INFERD_VERSION_POLICY_ALL: inferd_buf_append_str(out, "{\"all\":{}}"); break;
    case INFERD_VERSION_POLICY_SPECIFIC:
        inferd_buf_append_str(out, "{\"specific\":{\"versions\":");
        json_dims(out, cfg->specific_versions, cfg->n_specific_versions);
        inferd_buf_append_str(out, "}}");
        break;
    }
    inferd_buf_printf(out, ",\"max_batch_size\":%d,\"input\":[", (int)cfg->max_batch_size);
    for (size_t i = 0; i < cfg->n_inputs; i++) {
        if (i)
            inferd_buf_append_char(out, ',');
        json_io(out, &cfg->inputs[i], true);
    }
    inferd_buf_append_str(out, "],\"output\":[");
    for (size_t i = 0; i < cfg->n_outputs; i++) {
        if (i)
            inferd_buf_append_char(out, ',');
        json_io(out, &cfg->outputs[i], false);
    }
    inferd_buf_append_str(out, "],\"batch_input\":[],\"batch_output\":[]");
    if (cfg->has_dynamic_batching) {
        const inferd_dynamic_batching_t *db = &cfg->dynamic_batching;
        const inferd_queue_policy_t *qp = &db->default_queue_policy;
        inferd_buf_append_str(out, ",\"dynamic_batching\":{\"preferred_batch_size\":");
        json_dims(out, db->preferred_batch_size, db->n_preferred_batch_size);
        inferd_buf_printf(out, ",\"max_queue_delay_microseconds\":%llu,\"preserve_ordering\":",
                          (unsigned long long)db->max_queue_delay_microseconds);
        json_bool(out, db->preserve_ordering);
        inferd_buf_printf(out,
                          ",\"priority_levels\":0,\"default_priority_level\":0,"
                          "\"default_queue_policy\":{\"timeout_action\":\"%s\","
                          "\"default_timeout_microseconds\":%llu,\"allow_timeout_override\":%s,"
                          "\"max_queue_size\":%u},\"priority_queue_policy\":{}}",
                          qp->timeout_action == INFERD_TIMEOUT_ACTION_DELAY ? "DELAY" : "REJECT",
                          (unsigned long long)qp->default_timeout_microseconds,
                          qp->allow_timeout_override ? "true" : "false",
                          (unsigned)qp->max_queue_size);
    }
    inferd_buf_append_str(out, ",\"instance_group\":[");
    for (size_t i = 0; i < cfg->n_instance_groups; i++) {
        const inferd_instance_group_t *g = &cfg->instance_groups[i];
        inferd_buf_append_str(out, i ? ",{\"name\":" : "{\"name\":");
        json_str(out, g->name);
        inferd_buf_printf(out,
                          ",\"kind\":\"%s\",\"count\":%d,\"gpus\":[],\"secondary_devices\":[],"
                          "\"profile\":[],\"passive\":false,\"host_policy\":\"\"}",
                          kind_name(g->kind), (int)g->count);
    }
    inferd_buf_append_str(out, "],\"default_model_filename\":");
    json_str(out, cfg->default_model_filename);
    inferd_buf_append_str(out, ",\"cc_model_filenames\":{},\"metric_tags\":{},\"parameters\":{");
    for (size_t i = 0; i < cfg->n_parameters; i++) {
        if (i)
            inferd_buf_append_char(out, ',');
        json_str(out, cfg->parameters[i].key);
        inferd_buf_append_str(out, ":{\"string_value\":");
        json_str(out, cfg->parameters[i].value);
        inferd_buf_append_char(out, '}');
    }
    inferd_buf_append_str(out, "},\"model_warmup\":[]}");
}
