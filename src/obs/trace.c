/* Tracing (see trace.h): trace context parsing, sampling under Triton's trace settings, a
 * bounded lock-free span ring, and the OTLP/HTTP JSON exporter thread.
 *
 * Threads: request threads (I/O, workers, the remote client's callers) claim ring slots
 * with one CAS and publish them with a release store; the exporter thread is the ring's
 * only consumer. Settings live under settings_lock (a rwlock: the sampling decision of a
 * request takes it for reading, only when tracing is on; POSTs take it for writing);
 * sampling counters are atomics so concurrent readers may advance them. */
#include "obs/trace.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/thread.h"
#include "inferd/version.h"
#include "obs/log.h"

#define LEVEL_OFF 0
#define LEVEL_TIMESTAMPS 1
#define MAX_OVERRIDES 256       /* models with their own settings */
#define MAX_BATCH_SPANS 512     /* spans per export POST */
#define EXPORT_PERIOD_MS 100    /* how often the exporter drains the ring */
#define EXPORT_BUSY_MS 5        /* ... when the last round found it a quarter full */
#define TRACESTATE_MAX 512      /* W3C: propagate at least 512 characters */
#define SPAN_MODEL_MAX 128      /* longer model names are cut in span attributes */
#define SPAN_DETAIL_MAX 256     /* error message or upstream URL */
#define MAX_RESPONSE_BYTES 4096 /* of the collector's answer, which is ignored */

/* ------------------------------------------------------------------------------------ */
/* Spans and the ring                                                                   */

typedef struct trace_span {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t parent_id[8]; /* all zero: a root span */
    uint8_t kind;         /* OTLP SpanKind: 1 internal, 2 server, 3 client */
    bool error;           /* status ERROR with detail as its message */
    int32_t http_status;  /* 0 = none */
    int64_t start_ns;     /* monotonic */
    int64_t end_ns;
    int64_t batch_size; /* -1 = none */
    const char *name;   /* static */
    char model[SPAN_MODEL_MAX];
    char version[24];
    char request_id[INFERD_REQUEST_ID_MAX];
    char url[SPAN_DETAIL_MAX]; /* client spans */
    char detail[SPAN_DETAIL_MAX];
} trace_span_t;

typedef struct span_slot {
    atomic_size_t seq; /* Vyukov's bounded queue: pos = free for pos, pos+1 = full */
    trace_span_t span;
} span_slot_t;

typedef struct span_ring {
    span_slot_t *slots;
    size_t mask;
    atomic_size_t enq; /* producers */
    size_t deq;        /* the consumer only */
} span_ring_t;

static void ring_init(span_ring_t *r, size_t capacity)
{
    size_t cap = 2;
    while (cap < capacity && cap < ((size_t)1 << 24))
        cap <<= 1;
    r->slots = inferd_xcalloc(cap, sizeof(*r->slots));
    r->mask = cap - 1;
    for (size_t i = 0; i < cap; i++)
        atomic_init(&r->slots[i].seq, i);
    atomic_init(&r->enq, 0);
    r->deq = 0;
}

static void ring_deinit(span_ring_t *r)
{
    inferd_free(r->slots);
    r->slots = NULL;
}

/* Claims a slot for one span, or NULL when the ring is full. Thread: any. */
static trace_span_t *ring_claim(span_ring_t *r, size_t *pos_out)
{
    size_t pos = atomic_load_explicit(&r->enq, memory_order_relaxed);
    for (;;) {
        span_slot_t *s = &r->slots[pos & r->mask];
        size_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        intptr_t diff = (intptr_t)seq - (intptr_t)pos;
        if (diff == 0) {
            /* relaxed: the slot's own seq orders its contents. */
            if (atomic_compare_exchange_weak_explicit(&r->enq, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (diff < 0) {
            return NULL; /* the consumer has not freed this slot yet: full */
        } else {
            pos = atomic_load_explicit(&r->enq, memory_order_relaxed);
        }
    }
    *pos_out = pos;
    return &r->slots[pos & r->mask].span;
}

static void ring_publish(span_ring_t *r, size_t pos)
{
    atomic_store_explicit(&r->slots[pos & r->mask].seq, pos + 1, memory_order_release);
}

/* The oldest published span, or NULL. Thread: the consumer. */
static const trace_span_t *ring_peek(span_ring_t *r)
{
    span_slot_t *s = &r->slots[r->deq & r->mask];
    size_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
    return seq == r->deq + 1 ? &s->span : NULL;
}

/* Frees the slot ring_peek returned. Thread: the consumer. */
static void ring_release(span_ring_t *r)
{
    span_slot_t *s = &r->slots[r->deq & r->mask];
    atomic_store_explicit(&s->seq, r->deq + r->mask + 1, memory_order_release);
    r->deq++;
}

/* ------------------------------------------------------------------------------------ */
/* Module state                                                                         */

typedef struct trace_setting {
    int level;
    int64_t rate;
    int64_t log_frequency;
    _Atomic int_fast64_t count; /* traces left, -1 = unlimited */
    atomic_uint_fast64_t seen;  /* requests without a traceparent, for the rate */
} trace_setting_t;

typedef struct trace_override {
    char name[256];
    bool has_level, has_rate, has_count, has_log_frequency;
    trace_setting_t s;
} trace_override_t;

static struct {
    pthread_rwlock_t settings_lock;
    trace_setting_t global;   /* under settings_lock (counters: atomics) */
    trace_setting_t initial;  /* the start-up values, restored by a null */
    trace_override_t *models; /* MAX_OVERRIDES, under settings_lock */
    size_t n_models;
    atomic_bool active; /* the exporter runs and some level is on: sampling can say yes */

    span_ring_t ring;
    atomic_bool recording; /* the ring exists */
    atomic_uint_fast64_t exported, dropped, failures;
    int64_t realtime_offset_ns; /* Unix time minus monotonic time */

    char *endpoint;
    int64_t timeout_ms;
    inferd_thread_t *thread;
    pthread_mutex_t lock; /* guards stop */
    pthread_cond_t cond;
    bool stop;
} T = {.settings_lock = PTHREAD_RWLOCK_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER};

/* ------------------------------------------------------------------------------------ */
/* Ids and W3C trace context                                                            */

static uint64_t rand64(void)
{
    static __thread uint64_t state;
    static __thread bool seeded;
    if (!seeded) {
        if (getrandom(&state, sizeof(state), GRND_NONBLOCK) != (ssize_t)sizeof(state))
            state = (uint64_t)inferd_now_ns() ^ ((uint64_t)(uintptr_t)&state << 20);
        seeded = true;
    }
    /* splitmix64 */
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool all_zero(const uint8_t *id, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (id[i])
            return false;
    return true;
}

void inferd_trace_new_span_id(uint8_t out[8])
{
    uint64_t x;
    do
        x = rand64();
    while (x == 0);
    memcpy(out, &x, 8);
}

static void new_trace_id(uint8_t out[16])
{
    uint64_t a = rand64(), b;
    do
        b = rand64();
    while (b == 0);
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
}

static int hex_lower(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* W3C allows lowercase only */
}

/* Parses 2n lowercase hex digits. */
static bool parse_hex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hex_lower(s[2 * i]), lo = hex_lower(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

bool inferd_trace_parse_traceparent(const char *s, uint8_t trace_id[16], uint8_t parent_id[8],
                                    uint8_t *flags)
{
    /* vv-<32 hex>-<16 hex>-ff */
    size_t len = strnlen(s, 56);
    uint8_t ver, tid[16], pid[8], fl;
    if (len < 55 || !parse_hex(s, &ver, 1) || ver == 0xff || s[2] != '-' || s[35] != '-' ||
        s[52] != '-')
        return false;
    if (ver == 0 && len != 55)
        return false;
    if (ver != 0 && len > 55 && s[55] != '-')
        return false; /* a later version may only append "-..." */
    if (!parse_hex(s + 3, tid, 16) || !parse_hex(s + 36, pid, 8) || !parse_hex(s + 53, &fl, 1))
        return false;
    if (all_zero(tid, 16) || all_zero(pid, 8))
        return false;
    memcpy(trace_id, tid, 16);
    memcpy(parent_id, pid, 8);
    *flags = fl;
    return true;
}

bool inferd_trace_tracestate_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= TRACESTATE_MAX || (unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e)
            return false;
    return n > 0;
}

void inferd_trace_hex(char *out, const uint8_t *id, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[2 * n] = '\0';
}

void inferd_trace_format_traceparent(char out[56], const uint8_t trace_id[16],
                                     const uint8_t span_id[8], uint8_t flags)
{
    memcpy(out, "00-", 3);
    inferd_trace_hex(out + 3, trace_id, 16);
    out[35] = '-';
    inferd_trace_hex(out + 36, span_id, 8);
    out[52] = '-';
    inferd_trace_hex(out + 53, &flags, 1);
}

/* ------------------------------------------------------------------------------------ */
/* Sampling                                                                             */

/* Caller holds settings_lock. */
static trace_override_t *find_override(const char *model)
{
    for (size_t i = 0; model && i < T.n_models; i++)
        if (strcmp(T.models[i].name, model) == 0)
            return &T.models[i];
    return NULL;
}

/* Takes one trace from a count (-1 = unlimited). */
static bool take_count(_Atomic int_fast64_t *count)
{
    int_fast64_t c = atomic_load(count);
    for (;;) {
        if (c < 0)
            return true;
        if (c == 0)
            return false;
        if (atomic_compare_exchange_weak(count, &c, c - 1))
            return true;
    }
}

static bool sample(const char *model, bool sampled_parent)
{
    pthread_rwlock_rdlock(&T.settings_lock);
    trace_override_t *o = T.n_models ? find_override(model) : NULL;
    int level = o && o->has_level ? o->s.level : T.global.level;
    bool yes = level != LEVEL_OFF;
    if (yes && !sampled_parent) {
        trace_setting_t *r = o && o->has_rate ? &o->s : &T.global;
        yes = atomic_fetch_add(&r->seen, 1) % (uint64_t)r->rate == 0;
    }
    if (yes)
        yes = take_count(o && o->has_count ? &o->s.count : &T.global.count);
    pthread_rwlock_unlock(&T.settings_lock);
    return yes;
}

void inferd_trace_begin(inferd_ctx_t *ctx, const char *model, const char *traceparent,
                        const char *tracestate)
{
    bool has_parent =
        traceparent && inferd_trace_parse_traceparent(traceparent, ctx->trace_id,
                                                      ctx->parent_span_id, &ctx->trace_flags);
    if (has_parent) {
        /* Not traced here: the upstream sees the caller's span as its parent. */
        memcpy(ctx->span_id, ctx->parent_span_id, 8);
        if (tracestate && inferd_trace_tracestate_ok(tracestate))
            ctx->tracestate = tracestate;
    }
    if (!atomic_load_explicit(&T.active, memory_order_relaxed))
        return;
    if (has_parent && !(ctx->trace_flags & 1))
        return; /* the caller decided not to sample */
    if (!sample(model, has_parent))
        return;
    if (!has_parent) {
        new_trace_id(ctx->trace_id);
        memset(ctx->parent_span_id, 0, 8);
        ctx->trace_flags = 0;
    }
    ctx->trace_flags |= 1;
    inferd_trace_new_span_id(ctx->span_id);
    ctx->traced = true;
}

/* ------------------------------------------------------------------------------------ */
/* Recording                                                                            */

/* Claims a slot and fills the common fields, or counts a drop and returns NULL. */
static trace_span_t *span_begin(const inferd_ctx_t *ctx, const char *name, int kind,
                                const uint8_t span_id[8], const uint8_t parent_id[8],
                                int64_t start_ns, int64_t end_ns, size_t *pos)
{
    trace_span_t *sp = NULL;
    if (atomic_load_explicit(&T.recording, memory_order_acquire))
        sp = ring_claim(&T.ring, pos);
    if (!sp) {
        atomic_fetch_add_explicit(&T.dropped, 1, memory_order_relaxed);
        return NULL;
    }
    memcpy(sp->trace_id, ctx->trace_id, 16);
    memcpy(sp->span_id, span_id, 8);
    memcpy(sp->parent_id, parent_id, 8);
    sp->kind = (uint8_t)kind;
    sp->error = false;
    sp->http_status = 0;
    sp->start_ns = start_ns;
    sp->end_ns = end_ns > start_ns ? end_ns : start_ns;
    sp->batch_size = -1;
    sp->name = name;
    sp->model[0] = sp->version[0] = sp->url[0] = sp->detail[0] = '\0';
    snprintf(sp->request_id, sizeof(sp->request_id), "%s", ctx->request_id);
    return sp;
}

static void span_set_model(trace_span_t *sp, const char *model, int64_t version)
{
    snprintf(sp->model, sizeof(sp->model), "%s", model ? model : "");
    if (version >= 0)
        snprintf(sp->version, sizeof(sp->version), "%lld", (long long)version);
}

static void span_set_error(trace_span_t *sp, inferd_status_t st)
{
    if (st == INFERD_OK)
        return;
    sp->error = true;
    snprintf(sp->detail, sizeof(sp->detail), "%s", inferd_status_name(st));
}

void inferd_trace_span_server(const inferd_ctx_t *ctx, const char *model, const char *version,
                              int64_t start_ns, int64_t end_ns, int http_status, const char *error)
{
    size_t pos;
    trace_span_t *sp = span_begin(ctx, "POST /v2/models/{model}/infer", 2, ctx->span_id,
                                  ctx->parent_span_id, start_ns, end_ns, &pos);
    if (!sp)
        return;
    snprintf(sp->model, sizeof(sp->model), "%s", model ? model : "");
    snprintf(sp->version, sizeof(sp->version), "%s", version ? version : "");
    sp->http_status = http_status;
    if (error || http_status >= 500) {
        sp->error = true;
        snprintf(sp->detail, sizeof(sp->detail), "%s", error ? error : "");
    }
    ring_publish(&T.ring, pos);
}

void inferd_trace_span_queue(const inferd_ctx_t *ctx, const char *model, int64_t version,
                             int64_t start_ns, int64_t end_ns, inferd_status_t st)
{
    uint8_t id[8];
    inferd_trace_new_span_id(id);
    size_t pos;
    trace_span_t *sp = span_begin(ctx, "queue", 1, id, ctx->span_id, start_ns, end_ns, &pos);
    if (!sp)
        return;
    span_set_model(sp, model, version);
    span_set_error(sp, st);
    ring_publish(&T.ring, pos);
}

void inferd_trace_span_exec(const inferd_ctx_t *ctx, const uint8_t infer_id[8], const char *model,
                            int64_t version, uint64_t batch_size, const int64_t t[4],
                            inferd_status_t st)
{
    uint8_t batch_id[8], id[8];
    inferd_trace_new_span_id(batch_id);
    static const char *const names[3] = {"compute_input", "compute_infer", "compute_output"};
    size_t pos;
    trace_span_t *sp = span_begin(ctx, "batch", 1, batch_id, ctx->span_id, t[0], t[3], &pos);
    if (sp) {
        span_set_model(sp, model, version);
        sp->batch_size = (int64_t)batch_size;
        span_set_error(sp, st);
        ring_publish(&T.ring, pos);
    }
    for (int k = 0; k < 3; k++) {
        if (k != 1 && t[k + 1] <= t[k])
            continue;
        if (k == 1)
            memcpy(id, infer_id, 8);
        else
            inferd_trace_new_span_id(id);
        sp = span_begin(ctx, names[k], 1, id, batch_id, t[k], t[k + 1], &pos);
        if (!sp)
            continue;
        span_set_model(sp, model, version);
        sp->batch_size = (int64_t)batch_size;
        if (k == 1)
            span_set_error(sp, st);
        ring_publish(&T.ring, pos);
    }
}

void inferd_trace_span_client(const inferd_ctx_t *ctx, const uint8_t parent_id[8],
                              const uint8_t span_id[8], const char *url, long http_status,
                              int64_t start_ns, int64_t end_ns, const char *error)
{
    size_t pos;
    trace_span_t *sp = span_begin(ctx, "upstream POST /v2/models/{model}/infer", 3, span_id,
                                  parent_id, start_ns, end_ns, &pos);
    if (!sp)
        return;
    snprintf(sp->url, sizeof(sp->url), "%s", url ? url : "");
    sp->http_status = (int32_t)http_status;
    if (error) {
        sp->error = true;
        snprintf(sp->detail, sizeof(sp->detail), "%s", error);
    }
    ring_publish(&T.ring, pos);
}

/* ------------------------------------------------------------------------------------ */
/* OTLP/HTTP JSON encoding                                                              */

static void attr_str(inferd_buf_t *b, bool *first, const char *key, const char *v)
{
    if (!v || !*v)
        return;
    inferd_buf_printf(b, "%s{\"key\":\"%s\",\"value\":{\"stringValue\":", *first ? "" : ",", key);
    inferd_buf_append_json_str(b, v, strlen(v));
    inferd_buf_append_str(b, "}}");
    *first = false;
}

static void attr_int(inferd_buf_t *b, bool *first, const char *key, int64_t v)
{
    inferd_buf_printf(b, "%s{\"key\":\"%s\",\"value\":{\"intValue\":\"%lld\"}}", *first ? "" : ",",
                      key, (long long)v);
    *first = false;
}

static void encode_span(inferd_buf_t *b, const trace_span_t *sp, bool first)
{
    char tid[33], sid[17], pid[17];
    inferd_trace_hex(tid, sp->trace_id, 16);
    inferd_trace_hex(sid, sp->span_id, 8);
    inferd_buf_printf(b, "%s{\"traceId\":\"%s\",\"spanId\":\"%s\"", first ? "" : ",", tid, sid);
    if (!all_zero(sp->parent_id, 8)) {
        inferd_trace_hex(pid, sp->parent_id, 8);
        inferd_buf_printf(b, ",\"parentSpanId\":\"%s\"", pid);
    }
    /* OTLP/JSON: 64-bit integers are decimal strings, enums are numbers. */
    inferd_buf_printf(b,
                      ",\"name\":\"%s\",\"kind\":%d,\"startTimeUnixNano\":\"%lld\","
                      "\"endTimeUnixNano\":\"%lld\",\"attributes\":[",
                      sp->name, sp->kind, (long long)(sp->start_ns + T.realtime_offset_ns),
                      (long long)(sp->end_ns + T.realtime_offset_ns));
    bool f = true;
    attr_str(b, &f, "inferd.model.name", sp->model);
    attr_str(b, &f, "inferd.model.version", sp->version);
    attr_str(b, &f, "inferd.request_id", sp->request_id);
    if (sp->batch_size >= 0)
        attr_int(b, &f, "inferd.batch_size", sp->batch_size);
    if (sp->kind != 1)
        attr_str(b, &f, "http.request.method", "POST");
    attr_str(b, &f, "url.full", sp->url);
    if (sp->http_status > 0)
        attr_int(b, &f, "http.response.status_code", sp->http_status);
    inferd_buf_append_char(b, ']');
    if (sp->error) {
        inferd_buf_append_str(b, ",\"status\":{\"code\":2,\"message\":");
        inferd_buf_append_json_str(b, sp->detail, strlen(sp->detail));
        inferd_buf_append_char(b, '}');
    }
    inferd_buf_append_char(b, '}');
}

/* Encodes up to max spans from the ring into b (reset first) and frees their slots.
 * Returns how many. Thread: the consumer. */
static size_t encode_batch(inferd_buf_t *b, size_t max)
{
    inferd_buf_reset(b);
    size_t n = 0;
    const trace_span_t *sp;
    while (n < max && (sp = ring_peek(&T.ring))) {
        if (n == 0)
            inferd_buf_printf(b,
                              "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
                              "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"%s\"}},"
                              "{\"key\":\"service.version\",\"value\":{\"stringValue\":\"%s\"}},"
                              "{\"key\":\"process.pid\",\"value\":{\"intValue\":\"%d\"}}]},"
                              "\"scopeSpans\":[{\"scope\":{\"name\":\"%s\",\"version\":\"%s\"},"
                              "\"spans\":[",
                              INFERD_SERVER_NAME, INFERD_VERSION_STRING, (int)getpid(),
                              INFERD_SERVER_NAME, INFERD_VERSION_STRING);
        encode_span(b, sp, n == 0);
        ring_release(&T.ring);
        n++;
    }
    if (n)
        inferd_buf_append_str(b, "]}]}]}");
    return n;
}

/* ------------------------------------------------------------------------------------ */
/* Exporter                                                                             */

static size_t discard_body(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    size_t *seen = arg;
    *seen += size * n;
    return *seen > MAX_RESPONSE_BYTES ? 0 : size * n; /* 0 aborts an over-long answer */
}

/* POSTs b; true if the collector answered 2xx. */
static bool post_batch(CURL *c, const inferd_buf_t *b, char *why, size_t why_cap)
{
    size_t seen = 0;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, T.endpoint);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, b->data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)T.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)T.timeout_ms);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &seen);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    if (rc != CURLE_OK)
        snprintf(why, why_cap, "%s", curl_easy_strerror(rc));
    else if (code / 100 != 2)
        snprintf(why, why_cap, "the collector answered %ld", code);
    return rc == CURLE_OK && code / 100 == 2;
}

/* Exports what the ring holds and returns how many spans it took. After a failed POST it
 * stops (the rest waits for the next round, or, when final, is dropped). Thread: the
 * exporter. */
static size_t export_pending(CURL *c, inferd_buf_t *b, bool final, bool *failing)
{
    size_t n, taken = 0;
    while ((n = encode_batch(b, MAX_BATCH_SPANS)) > 0) {
        taken += n;
        char why[CURL_ERROR_SIZE + 64] = "";
        bool ok = !b->failed && post_batch(c, b, why, sizeof(why));
        if (ok) {
            atomic_fetch_add(&T.exported, n);
            if (*failing)
                inferd_log(INFERD_LOG_INFO, "trace export to %s works again", T.endpoint);
            *failing = false;
            continue;
        }
        atomic_fetch_add(&T.dropped, n);
        atomic_fetch_add(&T.failures, 1);
        if (!*failing) /* once per outage, not per batch */
            inferd_log(INFERD_LOG_WARN, "trace export to %s failed (%s): spans are dropped",
                       T.endpoint, b->failed ? "out of memory" : why);
        *failing = true;
        if (!final)
            return taken;
        while ((n = encode_batch(b, MAX_BATCH_SPANS)) > 0)
            atomic_fetch_add(&T.dropped, n);
        return taken;
    }
    return taken;
}

static void exporter_main(void *arg)
{
    (void)arg;
    CURL *c = curl_easy_init();
    if (!c)
        inferd_log(INFERD_LOG_ERROR, "trace export: cannot create an HTTP handle; spans are "
                                     "dropped");
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    bool failing = false;
    long period_ms = EXPORT_PERIOD_MS;
    pthread_mutex_lock(&T.lock);
    while (!T.stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += period_ms * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        inferd_thread_set_state("idle");
        pthread_cond_timedwait(&T.cond, &T.lock, &ts);
        if (T.stop)
            break;
        pthread_mutex_unlock(&T.lock);
        inferd_thread_set_state("exporting");
        /* Under load, come back sooner so the ring does not fill between rounds. */
        size_t taken = c ? export_pending(c, &b, false, &failing) : 0;
        period_ms = !failing && taken > (T.ring.mask + 1) / 4 ? EXPORT_BUSY_MS : EXPORT_PERIOD_MS;
        pthread_mutex_lock(&T.lock);
    }
    pthread_mutex_unlock(&T.lock);
    if (c) {
        export_pending(c, &b, true, &failing);
    } else {
        size_t n; /* no HTTP handle: what was recorded is lost */
        while ((n = encode_batch(&b, MAX_BATCH_SPANS)) > 0)
            atomic_fetch_add(&T.dropped, n);
    }
    inferd_buf_deinit(&b);
    if (c)
        curl_easy_cleanup(c);
}

/* ------------------------------------------------------------------------------------ */
/* Start and stop                                                                       */

static bool level_from_name(const char *s, int *out)
{
    if (strcmp(s, "OFF") == 0)
        *out = LEVEL_OFF;
    else if (strcmp(s, "TIMESTAMPS") == 0)
        *out = LEVEL_TIMESTAMPS;
    else
        return false;
    return true;
}

/* Whether some setting can trace. Caller holds settings_lock for writing. */
static void update_active(void)
{
    bool on = T.global.level != LEVEL_OFF;
    for (size_t i = 0; i < T.n_models && !on; i++)
        on = T.models[i].has_level && T.models[i].s.level != LEVEL_OFF;
    atomic_store(&T.active, on && T.thread != NULL);
}

static void setting_copy(trace_setting_t *dst, const trace_setting_t *src)
{
    dst->level = src->level;
    dst->rate = src->rate;
    dst->log_frequency = src->log_frequency;
    atomic_store(&dst->count, atomic_load(&src->count));
    atomic_store(&dst->seen, 0);
}

inferd_status_t inferd_trace_start(const inferd_trace_options_t *opt, inferd_err_t *err)
{
    int level;
    if (!level_from_name(opt->level ? opt->level : "OFF", &level))
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "--trace-level takes OFF or TIMESTAMPS, got '%s'", opt->level);
    if (opt->rate < 1 || opt->count < -1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "--trace-rate must be >= 1 and --trace-count >= -1");
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    T.realtime_offset_ns = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec - inferd_now_ns();

    pthread_rwlock_wrlock(&T.settings_lock);
    T.initial.level = level;
    T.initial.rate = opt->rate;
    T.initial.log_frequency = 0;
    atomic_store(&T.initial.count, opt->count);
    setting_copy(&T.global, &T.initial);
    if (!T.models)
        T.models = inferd_xcalloc(MAX_OVERRIDES, sizeof(*T.models));
    T.n_models = 0;
    pthread_rwlock_unlock(&T.settings_lock);

    if (opt->endpoint && *opt->endpoint) {
        curl_global_init(CURL_GLOBAL_DEFAULT); /* thread-safe since libcurl 7.84 */
        T.endpoint = inferd_xstrdup(opt->endpoint);
        T.timeout_ms = opt->timeout_ms > 0 ? opt->timeout_ms : 1000;
        ring_init(&T.ring, opt->buffer_spans > 0 ? (size_t)opt->buffer_spans : 4096);
        pthread_condattr_t a;
        pthread_condattr_init(&a);
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        pthread_cond_init(&T.cond, &a);
        pthread_condattr_destroy(&a);
        T.stop = false;
        atomic_store(&T.recording, true);
        if (inferd_thread_start(&T.thread, "trace-export", "exporter", exporter_main, NULL, err) !=
            INFERD_OK) {
            atomic_store(&T.recording, false);
            ring_deinit(&T.ring);
            pthread_cond_destroy(&T.cond);
            inferd_free(T.endpoint);
            T.endpoint = NULL;
            return err->code;
        }
    }
    pthread_rwlock_wrlock(&T.settings_lock);
    update_active();
    pthread_rwlock_unlock(&T.settings_lock);
    return INFERD_OK;
}

void inferd_trace_stop(void)
{
    pthread_rwlock_wrlock(&T.settings_lock);
    atomic_store(&T.active, false);
    pthread_rwlock_unlock(&T.settings_lock);
    if (T.thread) {
        pthread_mutex_lock(&T.lock);
        T.stop = true;
        pthread_cond_signal(&T.cond);
        pthread_mutex_unlock(&T.lock);
        inferd_thread_join(T.thread); /* it exports what is left first */
        T.thread = NULL;
        atomic_store(&T.recording, false);
        ring_deinit(&T.ring);
        pthread_cond_destroy(&T.cond);
        inferd_free(T.endpoint);
        T.endpoint = NULL;
    }
    pthread_rwlock_wrlock(&T.settings_lock);
    inferd_free(T.models);
    T.models = NULL;
    T.n_models = 0;
    pthread_rwlock_unlock(&T.settings_lock);
}

/* ------------------------------------------------------------------------------------ */
/* Settings (Triton's trace extension)                                                  */

void inferd_trace_settings_json(const char *model, inferd_buf_t *out)
{
    pthread_rwlock_rdlock(&T.settings_lock);
    trace_override_t *o = find_override(model);
    const trace_setting_t *g = &T.global;
    int level = o && o->has_level ? o->s.level : g->level;
    int64_t rate = o && o->has_rate ? o->s.rate : g->rate;
    int64_t count = atomic_load(o && o->has_count ? &o->s.count : &g->count);
    int64_t logf = o && o->has_log_frequency ? o->s.log_frequency : g->log_frequency;
    inferd_buf_printf(out,
                      "{\"trace_level\":[\"%s\"],\"trace_rate\":\"%lld\",\"trace_count\":\"%lld\","
                      "\"log_frequency\":\"%lld\",\"trace_file\":\"\","
                      "\"trace_mode\":\"opentelemetry\",\"url\":",
                      level == LEVEL_OFF ? "OFF" : "TIMESTAMPS", (long long)rate, (long long)count,
                      (long long)logf);
    const char *url = T.endpoint ? T.endpoint : "";
    inferd_buf_append_json_str(out, url, strlen(url));
    inferd_buf_append_char(out, '}');
    pthread_rwlock_unlock(&T.settings_lock);
}

/* A setting's new value: absent, null (clear), or a value. */
typedef enum { SET_ABSENT = 0, SET_CLEAR, SET_VALUE } set_kind_t;

/* A number given as a decimal string (Triton's form) or a JSON integer, in [lo, hi]. */
static inferd_status_t int_value(const inferd_json_t *v, const char *key, int64_t lo, int64_t hi,
                                 int64_t *out, inferd_err_t *err)
{
    int64_t x = 0;
    bool ok = false;
    if (v->type == INFERD_JSON_NUMBER) {
        ok = inferd_json_to_int64(v, &x);
    } else if (v->type == INFERD_JSON_STRING && v->u.string.len > 0 && v->u.string.len < 21) {
        char *end;
        errno = 0;
        long long y = strtoll(v->u.string.ptr, &end, 10);
        ok = errno == 0 && *end == '\0';
        x = y;
    }
    if (!ok || x < lo || x > hi)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "%s must be an integer in [%lld, %lld] (as a string), got %s%.40s%s",
                              key, (long long)lo, (long long)hi,
                              v->type == INFERD_JSON_STRING ? "'" : "",
                              v->type == INFERD_JSON_STRING   ? v->u.string.ptr
                              : v->type == INFERD_JSON_NUMBER ? "a number out of range"
                                                              : "a non-string",
                              v->type == INFERD_JSON_STRING ? "'" : "");
    *out = x;
    return INFERD_OK;
}

static inferd_status_t level_value(const inferd_json_t *v, int *out, inferd_err_t *err)
{
    const inferd_json_t *one = v;
    size_t n = 1;
    if (v->type == INFERD_JSON_ARRAY) {
        n = v->u.array.count;
        one = n ? v->u.array.items[0] : NULL;
    }
    if (n == 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "trace_level must list \"OFF\" or \"TIMESTAMPS\"");
    int level = LEVEL_OFF;
    for (size_t i = 0; i < n; i++) {
        const inferd_json_t *e = v->type == INFERD_JSON_ARRAY ? v->u.array.items[i] : one;
        if (e->type != INFERD_JSON_STRING)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "trace_level must be an array of strings");
        const char *s = e->u.string.ptr;
        if (strcmp(s, "TENSORS") == 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "trace_level TENSORS is not supported: inferd records "
                                  "timestamps (spans) only");
        int l;
        if (!level_from_name(s, &l))
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "unknown trace_level '%.40s' (OFF or TIMESTAMPS)", s);
        if (l == LEVEL_OFF && n > 1)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "trace_level OFF must be the only level given");
        level = l;
    }
    *out = level;
    return INFERD_OK;
}

inferd_status_t inferd_trace_settings_update(const char *model, const inferd_json_t *req,
                                             inferd_err_t *err)
{
    if (req->type != INFERD_JSON_OBJECT)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "the trace setting request must be a JSON object");
    set_kind_t k_level = SET_ABSENT, k_rate = SET_ABSENT, k_count = SET_ABSENT, k_logf = SET_ABSENT;
    int level = LEVEL_OFF;
    int64_t rate = 0, count = 0, logf = 0;
    inferd_status_t st = INFERD_OK;
    for (size_t i = 0; i < req->u.object.count && st == INFERD_OK; i++) {
        const char *key = req->u.object.members[i].key;
        const inferd_json_t *v = req->u.object.members[i].value;
        bool is_null = v->type == INFERD_JSON_NULL;
        if (strcmp(key, "trace_level") == 0) {
            k_level = is_null ? SET_CLEAR : SET_VALUE;
            if (!is_null)
                st = level_value(v, &level, err);
        } else if (strcmp(key, "trace_rate") == 0) {
            k_rate = is_null ? SET_CLEAR : SET_VALUE;
            if (!is_null)
                st = int_value(v, key, 1, UINT32_MAX, &rate, err);
        } else if (strcmp(key, "trace_count") == 0) {
            k_count = is_null ? SET_CLEAR : SET_VALUE;
            if (!is_null)
                st = int_value(v, key, -1, INT32_MAX, &count, err);
        } else if (strcmp(key, "log_frequency") == 0) {
            k_logf = is_null ? SET_CLEAR : SET_VALUE;
            if (!is_null)
                st = int_value(v, key, 0, UINT32_MAX, &logf, err);
        } else if (strcmp(key, "trace_file") == 0) {
            st = inferd_err_set(err, INFERD_E_UNSUPPORTED,
                                "trace file location can not be updated through network "
                                "protocol (inferd exports spans to --trace-endpoint)");
        } else if (strcmp(key, "trace_mode") == 0) {
            if (!is_null &&
                !(v->type == INFERD_JSON_STRING && strcmp(v->u.string.ptr, "opentelemetry") == 0))
                st = inferd_err_set(err, INFERD_E_INVALID_ARG,
                                    "trace_mode is always \"opentelemetry\" in inferd");
        } else {
            st = inferd_err_set(err, INFERD_E_INVALID_ARG, "unknown trace setting '%.60s'", key);
        }
    }
    if (st != INFERD_OK)
        return st;

    pthread_rwlock_wrlock(&T.settings_lock);
    if (!T.models) {
        pthread_rwlock_unlock(&T.settings_lock);
        return inferd_err_set(err, INFERD_E_UNAVAILABLE, "tracing is not initialized");
    }
    trace_setting_t *s = &T.global;
    trace_override_t *o = NULL;
    if (model) {
        o = find_override(model);
        bool sets = k_level == SET_VALUE || k_rate == SET_VALUE || k_count == SET_VALUE ||
                    k_logf == SET_VALUE;
        if (!o && sets) {
            if (T.n_models == MAX_OVERRIDES) {
                pthread_rwlock_unlock(&T.settings_lock);
                return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED,
                                      "at most %d models may have their own trace settings",
                                      MAX_OVERRIDES);
            }
            o = &T.models[T.n_models++];
            memset(o, 0, sizeof(*o));
            snprintf(o->name, sizeof(o->name), "%s", model);
        }
        if (!o) { /* only clears, and nothing to clear */
            pthread_rwlock_unlock(&T.settings_lock);
            return INFERD_OK;
        }
        s = &o->s;
    }
    /* A null resets a global setting to its start-up value, and makes a model's follow the
     * global one again. */
    if (k_level != SET_ABSENT) {
        s->level = k_level == SET_VALUE ? level : T.initial.level;
        if (o)
            o->has_level = k_level == SET_VALUE;
    }
    if (k_rate != SET_ABSENT) {
        s->rate = k_rate == SET_VALUE ? rate : T.initial.rate;
        atomic_store(&s->seen, 0); /* a new rate starts with a traced request */
        if (o)
            o->has_rate = k_rate == SET_VALUE;
    }
    if (k_count != SET_ABSENT) {
        atomic_store(&s->count, k_count == SET_VALUE ? count : atomic_load(&T.initial.count));
        if (o)
            o->has_count = k_count == SET_VALUE;
    }
    if (k_logf != SET_ABSENT) {
        s->log_frequency = k_logf == SET_VALUE ? logf : T.initial.log_frequency;
        if (o)
            o->has_log_frequency = k_logf == SET_VALUE;
    }
    if (o && !o->has_level && !o->has_rate && !o->has_count && !o->has_log_frequency) {
        /* Nothing of its own left: the model follows the global settings. */
        trace_override_t *last = &T.models[--T.n_models];
        if (o != last)
            memcpy(o, last, sizeof(*o));
    }
    update_active();
    pthread_rwlock_unlock(&T.settings_lock);
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Metrics                                                                              */

void inferd_trace_counters(inferd_trace_counters_t *out)
{
    out->exported = atomic_load_explicit(&T.exported, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&T.dropped, memory_order_relaxed);
    out->failures = atomic_load_explicit(&T.failures, memory_order_relaxed);
}

void inferd_trace_metrics_render(inferd_buf_t *out)
{
    inferd_trace_counters_t c;
    inferd_trace_counters(&c);
    inferd_buf_printf(
        out,
        "# HELP inferd_trace_spans_exported_total Spans the OTLP collector accepted.\n"
        "# TYPE inferd_trace_spans_exported_total counter\n"
        "inferd_trace_spans_exported_total %llu\n"
        "# HELP inferd_trace_spans_dropped_total Spans lost because the span buffer was full "
        "or their export failed.\n"
        "# TYPE inferd_trace_spans_dropped_total counter\n"
        "inferd_trace_spans_dropped_total %llu\n"
        "# HELP inferd_trace_export_failures_total Span export requests that failed.\n"
        "# TYPE inferd_trace_export_failures_total counter\n"
        "inferd_trace_export_failures_total %llu\n",
        (unsigned long long)c.exported, (unsigned long long)c.dropped,
        (unsigned long long)c.failures);
}
