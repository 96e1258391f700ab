/* Unit tests for the number conversions of core/json.c (inferd_json_to_float,
 * inferd_json_to_double and their array forms) against strtof_l/strtod_l in the "C" locale,
 * bit for bit, over millions of JSON number lexemes: random short and long decimals, the
 * texts printers make of random float and double bit patterns, exact rounding midpoints
 * between adjacent floats and doubles and the values just beside them, subnormals, signed
 * zeros, integers around 2^24, 2^53 and 2^64, and exponents far out of range. Each lexeme is
 * checked as a node built by hand and as one parsed from a document (the parser converts short
 * numbers to float while scanning). The conversions take fast paths for short numbers; any
 * disagreement with libc is a bug. */
#include "test.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

static locale_t c_loc;

/* splitmix64: reproducible and independent of libc's rand(). */
static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

typedef struct {
    unsigned long checked;
    unsigned long parsed; /* of those, also read from a parsed document */
} counts_t;

static counts_t counts;

/* Lexemes waiting to be parsed as one array, with the values libc gave for them. The parser
 * converts short numbers to float while it scans them, so every lexeme also goes through
 * inferd_json_parse, and through the array conversions. */
#define BATCH 256
static struct {
    char text[BATCH * 1100];
    size_t len;
    int n;
    float f[BATCH];
    double d[BATCH];
} batch;

static void flush(void)
{
    if (batch.n == 0)
        return;
    batch.text[batch.len - 1] = ']'; /* the last ',' */
    inferd_json_doc_t *doc = NULL;
    inferd_err_t err = {0};
    if (inferd_json_parse(batch.text, batch.len, NULL, &doc, &err) != INFERD_OK)
        fail_msg("generator bug: a lexeme is not a JSON number: %s", err.msg);
    inferd_json_t *root = inferd_json_root(doc);
    assert_int_equal(root->u.array.count, (size_t)batch.n);
    static float fs[BATCH];
    static double dd[BATCH];
    assert_int_equal(inferd_json_numbers_to_float(root->u.array.items, (size_t)batch.n, fs),
                     (size_t)batch.n);
    assert_int_equal(inferd_json_numbers_to_double(root->u.array.items, (size_t)batch.n, dd),
                     (size_t)batch.n);
    for (int i = 0; i < batch.n; i++) {
        inferd_json_t *v = root->u.array.items[i];
        float pf;
        double pd;
        assert_true(inferd_json_to_float(v, &pf));
        assert_true(inferd_json_to_double(v, &pd));
        bool nan = isnan(batch.f[i]);
        if (!(nan ? isnan(pf) && isnan(fs[i])
                  : memcmp(&pf, &batch.f[i], 4) == 0 && memcmp(&fs[i], &batch.f[i], 4) == 0))
            fail_msg("parsed float '%.*s': got %a / %a want %a", (int)v->u.number.len,
                     v->u.number.text, (double)pf, (double)fs[i], (double)batch.f[i]);
        if (!(nan ? isnan(pd) && isnan(dd[i])
                  : memcmp(&pd, &batch.d[i], 8) == 0 && memcmp(&dd[i], &batch.d[i], 8) == 0))
            fail_msg("parsed double '%.*s': got %a / %a want %a", (int)v->u.number.len,
                     v->u.number.text, pd, dd[i], batch.d[i]);
    }
    inferd_json_doc_destroy(doc);
    counts.parsed += (unsigned long)batch.n;
    batch.n = 0;
    batch.len = 0;
}

/* Checks one lexeme (which must be valid JSON number grammar) against libc, as a node built
 * by hand, and queues it for the parsed check. */
static void check(const char *text)
{
    size_t len = strlen(text);
    inferd_json_t n = {.type = INFERD_JSON_NUMBER};
    n.u.number.text = text;
    n.u.number.len = len;

    char *end;
    float wf = strtof_l(text, &end, c_loc);
    if (end != text + len)
        fail_msg("generator bug: strtof_l stopped early in '%s'", text);
    double wd = strtod_l(text, &end, c_loc);

    float gf = 0;
    double gd = 0;
    if (!inferd_json_to_float(&n, &gf))
        fail_msg("inferd_json_to_float refused '%s'", text);
    if (!inferd_json_to_double(&n, &gd))
        fail_msg("inferd_json_to_double refused '%s'", text);
    if (memcmp(&gf, &wf, sizeof(gf)) != 0 && !(isnan(gf) && isnan(wf)))
        fail_msg("float '%s': got %a want %a", text, (double)gf, (double)wf);
    if (memcmp(&gd, &wd, sizeof(gd)) != 0 && !(isnan(gd) && isnan(wd)))
        fail_msg("double '%s': got %a want %a", text, gd, wd);
    counts.checked++;

    if (batch.len == 0)
        batch.text[batch.len++] = '[';
    assert_true(len + 2 < sizeof(batch.text) - batch.len);
    memcpy(batch.text + batch.len, text, len);
    batch.len += len;
    batch.text[batch.len++] = ',';
    batch.f[batch.n] = wf;
    batch.d[batch.n] = wd;
    if (++batch.n == BATCH)
        flush();
}

/* Appends n random digits, the first nonzero when lead is set. */
static char *digits(char *w, int n, bool lead)
{
    for (int i = 0; i < n; i++)
        *w++ = (char)('0' + (i == 0 && lead ? 1 + below(9) : below(10)));
    return w;
}

/* A random lexeme of the JSON grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, with
 * nint/nfrac integer and fraction digits (nfrac 0: no fraction) and an exponent in
 * [-emax, emax] (emax 0: none). */
static void lexeme(char *out, int nint, int nfrac, int emax, bool zero_run)
{
    char *w = out;
    if (below(2))
        *w++ = '-';
    if (nint <= 1 && below(3) == 0)
        *w++ = '0';
    else
        w = digits(w, nint < 1 ? 1 : nint, true);
    if (nfrac > 0) {
        *w++ = '.';
        if (zero_run) { /* 0.000ddd: small values and long mantissas of leading zeros */
            int z = (int)below((unsigned)nfrac);
            memset(w, '0', (size_t)z);
            w = digits(w + z, nfrac - z, false);
        } else {
            w = digits(w, nfrac, false);
        }
    }
    if (emax > 0) {
        *w++ = below(2) ? 'e' : 'E';
        unsigned s = below(3);
        if (s == 1)
            *w++ = '+';
        else if (s == 2)
            *w++ = '-';
        if (below(16) == 0)
            *w++ = '0'; /* leading zeros are legal in an exponent */
        char ex[16];
        int k = snprintf(ex, sizeof(ex), "%u", below((unsigned)emax + 1));
        memcpy(w, ex, (size_t)k);
        w += k;
    }
    *w = '\0';
}

static void short_decimals(void **state)
{
    (void)state;
    /* The tensor-data shape: up to 19 digits in all, small exponents. */
    rng_state = 1;
    char t[96];
    for (int i = 0; i < 1000000; i++) {
        int nint = 1 + (int)below(10);
        int nfrac = (int)below((unsigned)(20 - nint));
        int emax = below(3) == 0 ? 0 : (int)(1 + below(40));
        lexeme(t, nint, nfrac, emax, below(4) == 0);
        check(t);
    }
    flush();
}

static void long_decimals(void **state)
{
    (void)state;
    /* 20 to 60 digits (truncated mantissas), and exponents out to the edges of both ranges. */
    rng_state = 2;
    char t[160];
    for (int i = 0; i < 300000; i++) {
        int nint = 1 + (int)below(30);
        int nfrac = (int)below(31);
        int emax = (int)(1 + below(i % 4 == 0 ? 400 : 60));
        lexeme(t, nint, nfrac, emax, below(3) == 0);
        check(t);
    }
    flush();
}

static void float_texts(void **state)
{
    (void)state;
    /* What clients print for float32 data: %.Ng of random bit patterns (all exponents,
     * subnormals included), and the 17-digit text of the float widened to double. */
    rng_state = 3;
    char t[96];
    for (int i = 0; i < 300000; i++) {
        uint32_t bits = (uint32_t)rnd();
        float f;
        memcpy(&f, &bits, sizeof(f));
        if (!isfinite(f))
            continue;
        static const int prec[] = {6, 7, 8, 9, 12, 17};
        snprintf(t, sizeof(t), "%.*e", prec[i % 6] - 1, (double)f);
        check(t);
        snprintf(t, sizeof(t), "%.*g", prec[(i + 3) % 6], (double)f);
        if (!strchr(t, 'n') && !strchr(t, 'i'))
            check(t);
    }
    flush();
}

static void double_texts(void **state)
{
    (void)state;
    rng_state = 4;
    char t[96];
    for (int i = 0; i < 300000; i++) {
        uint64_t bits = rnd();
        double d;
        memcpy(&d, &bits, sizeof(d));
        if (!isfinite(d))
            continue;
        snprintf(t, sizeof(t), "%.*e", 14 + i % 4, d);
        check(t);
    }
    flush();
}

/* Exact decimal text of a long double (glibc prints every digit when asked for enough). */
static void print_exact(char *t, size_t cap, long double v)
{
    int n = snprintf(t, cap, "%.*Le", 800, v);
    assert_true(n > 0 && (size_t)n < cap);
    /* Trim the zeros between the last significant digit and the exponent. */
    char *e = strchr(t, 'e');
    char *z = e;
    while (z[-1] == '0')
        z--;
    if (z[-1] == '.')
        z++; /* keep one digit after the point */
    memmove(z, e, strlen(e) + 1);
}

static void midpoints(void **state)
{
    (void)state;
    /* The midpoint between two adjacent floats (doubles) is exactly representable in long
     * double; its exact text must round to even, and the long doubles just above and below
     * it must round away from it. This is where a double-rounding shortcut goes wrong. */
    rng_state = 5;
    static char t[1024];
    for (int i = 0; i < 40000; i++) {
        uint32_t fb = (uint32_t)rnd() & 0x7fffffffu;
        if (i % 4 == 0)
            fb &= 0x00ffffffu; /* subnormals and the smallest normals */
        else if (i % 4 == 1)
            fb = (fb & 0x007fffffu) | ((uint32_t)(96 + below(64)) << 23); /* |x| near 1 */
        float f;
        memcpy(&f, &fb, sizeof(f));
        float g = nextafterf(f, INFINITY);
        if (!isfinite(g))
            continue;
        long double mid = ((long double)f + (long double)g) / 2;
        print_exact(t, sizeof(t), mid);
        check(t);
        print_exact(t, sizeof(t), nextafterl(mid, 0));
        check(t);
        print_exact(t, sizeof(t), nextafterl(mid, INFINITY));
        check(t);
        /* Short texts near the midpoint: many read as exactly the midpoint double without
         * being the midpoint, the case a float-from-double shortcut must refuse. */
        for (int p = 12; p <= 16; p++) {
            snprintf(t, sizeof(t), "%.*e", p, (double)mid);
            check(t);
        }
    }
    for (int i = 0; i < 20000; i++) {
        uint64_t db = rnd() & 0x7fffffffffffffffull;
        if (i % 4 == 0)
            db &= 0x001fffffffffffffull;
        else if (i % 4 == 1)
            db = (db & 0x000fffffffffffffull) | ((uint64_t)(1000 + below(48)) << 52);
        double d;
        memcpy(&d, &db, sizeof(d));
        double e = nextafter(d, INFINITY);
        if (!isfinite(e))
            continue;
        long double mid = ((long double)d + (long double)e) / 2;
        print_exact(t, sizeof(t), mid);
        check(t);
        print_exact(t, sizeof(t), nextafterl(mid, 0));
        check(t);
        print_exact(t, sizeof(t), nextafterl(mid, INFINITY));
        check(t);
    }
    flush();
}

static void integers(void **state)
{
    (void)state;
    rng_state = 6;
    char t[96];
    /* Around the exact-integer limits of float, double and uint64. */
    static const uint64_t bases[] = {1ull << 24, 1ull << 53, 1ull << 63, 0,
                                     10000000000000000000ull};
    for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++)
        for (int k = -300; k <= 300; k++) {
            uint64_t v = bases[b] + (uint64_t)(int64_t)k;
            if (k < 0 && bases[b] == 0)
                continue;
            snprintf(t, sizeof(t), "%llu", (unsigned long long)v);
            check(t);
            snprintf(t, sizeof(t), "-%llu.0", (unsigned long long)v);
            check(t);
            snprintf(t, sizeof(t), "%llue0", (unsigned long long)v);
            check(t);
        }
    /* Random integers of every width up to 2^64, and 20 to 40 digit ones beyond. */
    for (int i = 0; i < 200000; i++) {
        uint64_t v = rnd() >> below(64);
        snprintf(t, sizeof(t), "%s%llu", below(2) ? "-" : "", (unsigned long long)v);
        check(t);
    }
    for (int i = 0; i < 50000; i++) {
        lexeme(t, 20 + (int)below(21), 0, 0, false);
        check(t);
    }
    flush();
}

static void edge_cases(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "0",
        "-0",
        "0.0",
        "-0.0",
        "0e0",
        "-0e-0",
        "0.000e-5",
        "0e99999",
        "-0E+400",
        "0.00000000000000000000000000000",
        "1",
        "-1",
        "1e0",
        "1E+0",
        "1e-0",
        "1e00005",
        "1e0000000000000000000005",
        "1e-00000000000000000000000005",
        "1e22",
        "1e23",
        "1e-22",
        "1e-23",
        "9007199254740991",
        "9007199254740992",
        "9007199254740993",
        "9007199254740994",
        "9007199254740995",
        "16777215",
        "16777216",
        "16777217",
        "16777218",
        "16777219",
        "18446744073709551615",
        "18446744073709551616",
        "1234567890123456789",
        "12345678901234567890",
        "0.1",
        "0.2",
        "0.3",
        "0.7",
        "8.589973e9",
        "3.4028235e38",
        "3.4028234663852886e38",
        "3.4028235677973366e38",
        "3.4028235677973367e38",
        "1e38",
        "1e39",
        "-1e39",
        "1.17549435e-38",
        "1.1754942e-38",
        "1.4e-45",
        "1.401298464324817e-45",
        "7.006492321624085e-46",
        "7.006492321624086e-46",
        "7e-46",
        "1e-46",
        "1.7976931348623157e308",
        "1.7976931348623158e308",
        "1.7976931348623159e308",
        "1e308",
        "1e309",
        "-1e309",
        "2.2250738585072014e-308",
        "2.2250738585072011e-308",
        "4.9406564584124654e-324",
        "2.4703282292062327e-324",
        "2.4703282292062328e-324",
        "1e-324",
        "1e-400",
        "1e400",
        "1e99999",
        "-1e-99999",
        "0.000001",
        "0.0000001",
        "123456789e-30",
        "2e-7",
        "1.5",
        "2.5",
        "0.5",
        "0.25",
        "0.125",
        "1.00000005960464477539062500000001",
        "1.000000059604644775390625",
        "1.0000001788139343",
        "1.0000001788139344",
        "4.35",
        "0.4170",
        "0.9499",
        "100000000000000000000000e-23",
        "NaN",
        "Infinity",
        "-Infinity",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        check(texts[i]);
    /* 0.1 followed by up to 800 zeros and a final digit, and a 1 after a run of zeros. */
    static char t[1000];
    for (int z = 1; z < 800; z += 7) {
        int n = snprintf(t, sizeof(t), "0.1");
        memset(t + n, '0', (size_t)z);
        snprintf(t + n + z, sizeof(t) - (size_t)(n + z), "1e-3");
        check(t);
        n = snprintf(t, sizeof(t), "0.");
        memset(t + n, '0', (size_t)z);
        snprintf(t + n + z, sizeof(t) - (size_t)(n + z), "7");
        check(t);
    }
    flush();
}

static void arrays_match_single(void **state)
{
    (void)state;
    /* The array forms convert what the single ones do, write packed at any alignment, and
     * stop at the first node that is not a number. */
    const char *doc_text = "[0.4170, -1e-3, 16777217, 1.00000005960464477539062500000001,"
                           " NaN, -0, 3.4028235677973367e38, 1e-400, \"x\", 2]";
    inferd_json_doc_t *doc = NULL;
    inferd_err_t err = {0};
    assert_int_equal(inferd_json_parse(doc_text, strlen(doc_text), NULL, &doc, &err), INFERD_OK);
    inferd_json_t *root = inferd_json_root(doc);
    size_t n = root->u.array.count;
    assert_int_equal(n, 10);
    unsigned char fbuf[1 + 10 * sizeof(float)], dbuf[1 + 10 * sizeof(double)];
    memset(fbuf, 0xee, sizeof(fbuf));
    memset(dbuf, 0xee, sizeof(dbuf));
    assert_int_equal(inferd_json_numbers_to_float(root->u.array.items, n, fbuf + 1), 8);
    assert_int_equal(inferd_json_numbers_to_double(root->u.array.items, n, dbuf + 1), 8);
    for (size_t i = 0; i < 8; i++) {
        float f;
        double d;
        assert_true(inferd_json_to_float(root->u.array.items[i], &f));
        assert_true(inferd_json_to_double(root->u.array.items[i], &d));
        assert_memory_equal(fbuf + 1 + i * sizeof(f), &f, sizeof(f));
        assert_memory_equal(dbuf + 1 + i * sizeof(d), &d, sizeof(d));
    }
    assert_int_equal(fbuf[0], 0xee);
    assert_int_equal(fbuf[1 + 8 * sizeof(float)], 0xee);
    assert_int_equal(dbuf[1 + 8 * sizeof(double)], 0xee);
    /* All numbers: n. None: 0. */
    assert_int_equal(inferd_json_numbers_to_float(root->u.array.items, 8, fbuf), 8);
    assert_int_equal(inferd_json_numbers_to_float(root->u.array.items + 8, 2, fbuf), 0);
    inferd_json_doc_destroy(doc);
}

static void enough_checked(void **state)
{
    (void)state;
    /* The generators above ran (a guard against a loop that silently checks nothing). */
    assert_true(counts.checked > 2500000);
    assert_true(counts.parsed == counts.checked);
}

int main(void)
{
    c_loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (!c_loc)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(edge_cases),     cmocka_unit_test(short_decimals),
        cmocka_unit_test(long_decimals),  cmocka_unit_test(float_texts),
        cmocka_unit_test(double_texts),   cmocka_unit_test(midpoints),
        cmocka_unit_test(integers),       cmocka_unit_test(arrays_match_single),
        cmocka_unit_test(enough_checked),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    freelocale(c_loc);
    return rc;
}
