// linear_bf16.c: bf16 linear layers through oneDNN's matmul (nn/linear_bf16.h).
#include "nn/linear_bf16.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const precision_names[] = {"fp32", "bf16"};
_Static_assert(sizeof precision_names / sizeof precision_names[0] == NN_PRECISION_COUNT, "one name per precision");

const char *nn_precision_name(nn_precision p) { return (unsigned)p < NN_PRECISION_COUNT ? precision_names[p] : "?"; }

msf_status nn_precision_parse(nn_precision *p, const char *text, const char *what) {
    for (int i = 0; i < NN_PRECISION_COUNT; i++)
        if (!strcmp(text, precision_names[i])) {
            if (i == NN_BF16 && !nn_bf16_available())
                return msf_fail(MSF_ERR_INVALID,
                                "%s bf16: this msf was built without oneDNN, so it has no bf16 path (install "
                                "libdnnl-dev and rebuild: make deps && make)",
                                what);
            *p = (nn_precision)i;
            return MSF_OK;
        }
    return msf_fail(MSF_ERR_INVALID, "%s '%s': expected fp32 or bf16", what, text);
}

size_t nn_bf16_linear_workspace_bytes(int M, int K) {
    return M > 0 && K > 0 ? msf_align_up((size_t)M * (size_t)K * sizeof(uint16_t)) + NN_BF16_SCRATCHPAD : 0;
}

#ifdef MSF_DNNL
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>

// A primitive for one output shape (row count and output strides), made on
// first use and kept until the layer is freed; its scratchpad is ours (user
// mode), so that calls from several threads at once each bring their own.
typedef struct {
    int m;
    int64_t ys0, ys1;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t src, wei, bias, dst;  // the operands' descriptors, for making and running it
    dnnl_memory_desc_t scratch_md;
    size_t scratch;  // bytes
} bf16_prim;

struct nn_bf16_linear {
    int K, N;
    uint16_t *w;           // [N, K] bf16: the [K, N] weights of the matmul in layout "ba"
    float *b;              // [N] or NULL
    pthread_mutex_t lock;  // guards prims
    bf16_prim *prims;
    int num_prims, cap_prims;
};

static dnnl_engine_t engine;
static dnnl_stream_t stream;  // a CPU stream runs each primitive synchronously in the calling thread
static dnnl_status_t engine_status = dnnl_runtime_error;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;

static void engine_init(void) {
    engine_status = dnnl_engine_create(&engine, dnnl_cpu, 0);
    if (engine_status == dnnl_success) engine_status = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
}

static msf_status dnnl_check(dnnl_status_t st, const char *what) {
    if (st == dnnl_success) return MSF_OK;
    return msf_fail(st == dnnl_out_of_memory ? MSF_ERR_NOMEM : MSF_ERR_INVALID, "oneDNN %s failed (status %d)", what,
                    (int)st);
}

int nn_bf16_available(void) { return 1; }

const char *nn_bf16_isa(void) {
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

const char *nn_bf16_library(void) {
    static char text[96];
    const dnnl_version_t *v = dnnl_version();
    snprintf(text, sizeof text, "%d.%d.%d (%s)", v->major, v->minor, v->patch, nn_bf16_isa());
    return text;
}

msf_status nn_bf16_linear_create(nn_bf16_linear **out, const float *w, const float *b, int K, int N) {
    *out = NULL;
    if (K < 1 || N < 1) return msf_fail(MSF_ERR_INVALID, "bf16 linear: K %d and N %d must be >= 1", K, N);
    pthread_once(&engine_once, engine_init);
    msf_status s = dnnl_check(engine_status, "CPU engine creation");
    if (s) return s;
    nn_bf16_linear *l = calloc(1, sizeof *l);
    if (!l) return msf_fail(MSF_ERR_NOMEM, "out of memory for a bf16 layer");
    l->K = K, l->N = N;
    l->w = malloc((size_t)N * K * sizeof *l->w);
    l->b = b ? malloc((size_t)N * sizeof *l->b) : NULL;
    if (!l->w || (b && !l->b)) {
        nn_bf16_linear_free(l);
        return msf_fail(MSF_ERR_NOMEM, "out of memory for a bf16 layer of %d x %d", N, K);
    }
    for (size_t i = 0; i < (size_t)N * K; i++) l->w[i] = nn_bf16_from_float(w[i]);
    if (b) memcpy(l->b, b, (size_t)N * sizeof *l->b);
    pthread_mutex_init(&l->lock, NULL);
    *out = l;
    return MSF_OK;
}

// Make the primitive for M rows written with strides (ys0, ys1).
static msf_status primitive_make(const nn_bf16_linear *l, int M, int64_t ys0, int64_t ys1, bf16_prim *out) {
    dnnl_memory_desc_t *src = &out->src, *wei = &out->wei, *bias = &out->bias, *dst = &out->dst;
    dnnl_dims_t sd = {M, l->K}, wd = {l->K, l->N}, bd = {1, l->N}, dd = {M, l->N}, ys = {ys0, ys1};
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t p = NULL;
    msf_status s = dnnl_check(dnnl_memory_desc_init_by_tag(src, 2, sd, dnnl_bf16, dnnl_ab), "memory descriptor");
    if (!s) s = dnnl_check(dnnl_memory_desc_init_by_tag(wei, 2, wd, dnnl_bf16, dnnl_ba), "memory descriptor");
    if (!s) s = dnnl_check(dnnl_memory_desc_init_by_tag(bias, 2, bd, dnnl_f32, dnnl_ab), "memory descriptor");
    if (!s) s = dnnl_check(dnnl_memory_desc_init_by_strides(dst, 2, dd, dnnl_f32, ys), "memory descriptor");
    if (!s) s = dnnl_check(dnnl_matmul_desc_init(&desc, src, wei, l->b ? bias : NULL, dst), "matmul descriptor");
    if (!s) s = dnnl_check(dnnl_primitive_attr_create(&attr), "primitive attributes");
    if (!s) s = dnnl_check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
    if (!s) s = dnnl_check(dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL), "matmul primitive descriptor");
    if (!s) {
        const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        out->scratch_md = *smd;
        out->scratch = dnnl_memory_desc_get_size(smd);
        s = dnnl_check(dnnl_primitive_create(&p, pd), "matmul primitive");
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (s) return msf_fail_context(s, "bf16 linear %d x %d x %d", M, l->K, l->N);
    out->m = M, out->ys0 = ys0, out->ys1 = ys1, out->prim = p;
    return MSF_OK;
}

// The primitive for M rows written with strides (ys0, ys1): kept, or made
// now. Thread-safe; a kept primitive is never destroyed before the layer.
static msf_status primitive_for(nn_bf16_linear *l, int M, int64_t ys0, int64_t ys1, bf16_prim *out) {
    msf_status s = MSF_OK;
    pthread_mutex_lock(&l->lock);
    int i = 0;
    while (i < l->num_prims && !(l->prims[i].m == M && l->prims[i].ys0 == ys0 && l->prims[i].ys1 == ys1)) i++;
    if (i == l->num_prims) {
        if (l->num_prims == l->cap_prims) {
            int cap = l->cap_prims ? 2 * l->cap_prims : 4;
            bf16_prim *np = realloc(l->prims, (size_t)cap * sizeof *np);
            if (!np) s = msf_fail(MSF_ERR_NOMEM, "out of memory for a bf16 primitive");
            else l->prims = np, l->cap_prims = cap;
        }
        if (!s) s = primitive_make(l, M, ys0, ys1, &l->prims[i]);
        if (!s) l->num_prims++;
    }
    if (!s) *out = l->prims[i];
    pthread_mutex_unlock(&l->lock);
    return s;
}

msf_status nn_bf16_linear_run(nn_bf16_linear *l, float *y, const float *x, int M, msf_arena *ws) {
    return nn_bf16_linear_run_strided(l, y, l->N, 1, x, l->K, 1, M, ws);
}

// y = xh W^T (+ b) with the primitive for (M, ys0, ys1); scratch: oneDNN's scratchpad.
static msf_status run_prim(nn_bf16_linear *l, const bf16_prim *prim, float *y, const uint16_t *xh, int M,
                           void *scratch) {
    dnnl_memory_t mem[5] = {NULL, NULL, NULL, NULL, NULL};
    msf_status s = dnnl_check(dnnl_memory_create(&mem[0], &prim->src, engine, (void *)xh), "memory");
    if (!s) s = dnnl_check(dnnl_memory_create(&mem[1], &prim->wei, engine, l->w), "memory");
    if (!s) s = dnnl_check(dnnl_memory_create(&mem[2], &prim->dst, engine, y), "memory");
    if (!s) s = dnnl_check(dnnl_memory_create(&mem[3], &prim->scratch_md, engine, scratch), "memory");
    if (!s && l->b) s = dnnl_check(dnnl_memory_create(&mem[4], &prim->bias, engine, l->b), "memory");
    if (!s) {
        dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, mem[0]},
                                   {DNNL_ARG_WEIGHTS, mem[1]},
                                   {DNNL_ARG_DST, mem[2]},
                                   {DNNL_ARG_SCRATCHPAD, mem[3]},
                                   {DNNL_ARG_BIAS, mem[4]}};
        s = dnnl_check(dnnl_primitive_execute(prim->prim, stream, l->b ? 5 : 4, args), "matmul");
        if (!s) s = dnnl_check(dnnl_stream_wait(stream), "stream wait");
    }
    for (int i = 0; i < 5; i++)
        if (mem[i]) dnnl_memory_destroy(mem[i]);
    return s ? msf_fail_context(s, "bf16 linear %d x %d x %d", M, l->K, l->N) : MSF_OK;
}

// `bytes` of scratch from ws when it has room, else from the heap (*heap, to free).
static unsigned char *take(msf_arena *ws, size_t bytes, unsigned char **heap) {
    *heap = NULL;
    if (ws && ws->capacity - ws->used >= bytes) return msf_arena_alloc(ws, bytes);
    return *heap = msf_aligned_alloc(bytes ? bytes : 1);
}

msf_status nn_bf16_linear_run_bf16(nn_bf16_linear *l, float *y, int64_t ys0, int64_t ys1, const uint16_t *xh, int M,
                                   msf_arena *ws) {
    if (M < 1) return MSF_OK;
    bf16_prim prim;
    msf_status s = primitive_for(l, M, ys0, ys1, &prim);
    if (s) return s;
    size_t mark = ws ? msf_arena_mark(ws) : 0;
    unsigned char *heap, *scratch = take(ws, msf_align_up(prim.scratch), &heap);
    if (!scratch) return msf_fail(MSF_ERR_NOMEM, "out of memory for oneDNN's scratchpad");
    s = run_prim(l, &prim, y, xh, M, scratch);
    if (ws) msf_arena_release(ws, mark);
    msf_aligned_free(heap);
    return s;
}

msf_status nn_bf16_linear_run_strided(nn_bf16_linear *l, float *y, int64_t ys0, int64_t ys1, const float *x,
                                      int64_t xs0, int64_t xs1, int M, msf_arena *ws) {
    if (M < 1) return MSF_OK;
    bf16_prim prim;
    msf_status s = primitive_for(l, M, ys0, ys1, &prim);
    if (s) return s;
    // The bf16 copy of x and oneDNN's scratchpad: from ws when it has room, else the heap.
    const size_t n = (size_t)M * l->K;
    size_t xbytes = msf_align_up(n * sizeof(uint16_t)), bytes = xbytes + msf_align_up(prim.scratch);
    size_t mark = ws ? msf_arena_mark(ws) : 0;
    unsigned char *heap, *buf = take(ws, bytes, &heap);
    if (!buf) return msf_fail(MSF_ERR_NOMEM, "out of memory for %d bf16 rows of %d", M, l->K);
    uint16_t *xh = (uint16_t *)buf;
    const int nested = omp_in_parallel();  // one image per thread: convert in this thread
    if (xs1 == 1 && xs0 == l->K) {
#pragma omp parallel for schedule(static) if (n > 65536 && !nested)
        for (size_t i = 0; i < n; i++) xh[i] = nn_bf16_from_float(x[i]);
    } else {
        const int K = l->K;
#pragma omp parallel for schedule(static) if (n > 65536 && !nested)
        for (int i = 0; i < M; i++) {
            const float *xi = x + i * xs0;
            uint16_t *hi = xh + (size_t)i * K;
            if (xs1 == 1)
                for (int k = 0; k < K; k++) hi[k] = nn_bf16_from_float(xi[k]);
            else
                for (int k = 0; k < K; k++) hi[k] = nn_bf16_from_float(xi[k * xs1]);
        }
    }
    s = run_prim(l, &prim, y, xh, M, buf + xbytes);
    if (ws) msf_arena_release(ws, mark);
    msf_aligned_free(heap);
    return s;
}

void nn_bf16_linear_free(nn_bf16_linear *l) {
    if (!l) return;
    for (int i = 0; i < l->num_prims; i++) dnnl_primitive_destroy(l->prims[i].prim);
    free(l->prims);
    pthread_mutex_destroy(&l->lock);
    free(l->w), free(l->b), free(l);
}
// -----------------------------------------------------------------------------
// Products of runtime operands

struct nn_bf16_matmul {
    int M, K, N;
    dnnl_memory_desc_t a, b, c, scratch_md;
    size_t scratch;
    dnnl_primitive_t prim;
};

msf_status nn_bf16_matmul_create(nn_bf16_matmul **out, int M, int K, int N, const int64_t as[2], const int64_t bs[2],
                                 const int64_t cs[2]) {
    *out = NULL;
    if (M < 1 || K < 1 || N < 1) return msf_fail(MSF_ERR_INVALID, "bf16 matmul %d x %d x %d", M, K, N);
    pthread_once(&engine_once, engine_init);
    msf_status s = dnnl_check(engine_status, "CPU engine creation");
    if (s) return s;
    nn_bf16_matmul *mm = calloc(1, sizeof *mm);
    if (!mm) return msf_fail(MSF_ERR_NOMEM, "out of memory for a bf16 matmul");
    mm->M = M, mm->K = K, mm->N = N;
    dnnl_dims_t ad = {M, K}, bd = {K, N}, cd = {M, N}, a_s = {as[0], as[1]}, b_s = {bs[0], bs[1]}, c_s = {cs[0], cs[1]};
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    s = dnnl_check(dnnl_memory_desc_init_by_strides(&mm->a, 2, ad, dnnl_bf16, a_s), "memory descriptor");
    if (!s) s = dnnl_check(dnnl_memory_desc_init_by_strides(&mm->b, 2, bd, dnnl_bf16, b_s), "memory descriptor");
    if (!s) s = dnnl_check(dnnl_memory_desc_init_by_strides(&mm->c, 2, cd, dnnl_f32, c_s), "memory descriptor");
    if (!s) s = dnnl_check(dnnl_matmul_desc_init(&desc, &mm->a, &mm->b, NULL, &mm->c), "matmul descriptor");
    if (!s) s = dnnl_check(dnnl_primitive_attr_create(&attr), "primitive attributes");
    if (!s) s = dnnl_check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
    if (!s) s = dnnl_check(dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL), "matmul primitive descriptor");
    if (!s) {
        mm->scratch_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        mm->scratch = dnnl_memory_desc_get_size(&mm->scratch_md);
        s = dnnl_check(dnnl_primitive_create(&mm->prim, pd), "matmul primitive");
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (s) {
        nn_bf16_matmul_free(mm);
        return msf_fail_context(s, "bf16 matmul %d x %d x %d", M, K, N);
    }
    *out = mm;
    return MSF_OK;
}

size_t nn_bf16_matmul_scratch_bytes(const nn_bf16_matmul *mm) { return msf_align_up(mm->scratch); }

msf_status nn_bf16_matmul_run(const nn_bf16_matmul *mm, float *c, const uint16_t *a, const uint16_t *b, void *scratch) {
    dnnl_memory_t mem[4] = {NULL, NULL, NULL, NULL};
    msf_status s = dnnl_check(dnnl_memory_create(&mem[0], &mm->a, engine, (void *)a), "memory");
    if (!s) s = dnnl_check(dnnl_memory_create(&mem[1], &mm->b, engine, (void *)b), "memory");
    if (!s) s = dnnl_check(dnnl_memory_create(&mem[2], &mm->c, engine, c), "memory");
    if (!s) s = dnnl_check(dnnl_memory_create(&mem[3], &mm->scratch_md, engine, scratch), "memory");
    if (!s) {
        dnnl_exec_arg_t args[4] = {
            {DNNL_ARG_SRC, mem[0]}, {DNNL_ARG_WEIGHTS, mem[1]}, {DNNL_ARG_DST, mem[2]}, {DNNL_ARG_SCRATCHPAD, mem[3]}};
        s = dnnl_check(dnnl_primitive_execute(mm->prim, stream, 4, args), "matmul");
    }
    for (int i = 0; i < 4; i++)
        if (mem[i]) dnnl_memory_destroy(mem[i]);
    return s ? msf_fail_context(s, "bf16 matmul %d x %d x %d", mm->M, mm->K, mm->N) : MSF_OK;
}

void nn_bf16_matmul_free(nn_bf16_matmul *mm) {
    if (!mm) return;
    if (mm->prim) dnnl_primitive_destroy(mm->prim);
    free(mm);
}

// -----------------------------------------------------------------------------
// Convolutions

typedef struct {
    int n, h, w, oh, ow;
    dnnl_primitive_t conv, to_src, to_nchw;
    dnnl_memory_desc_t src, dst, src_user, dst_user;
    dnnl_memory_t weights;  // reordered for this primitive (owned)
} conv_entry;

struct nn_bf16_conv {
    int cin, cout, kh, kw, stride, pt, pb, pl, pr;
    float *w, *b;  // fp32 copies: (c_out, c_in, kh, kw), (c_out) or NULL
    conv_entry *e;
    int ne, cap;
};

msf_status nn_bf16_conv_create(nn_bf16_conv **out, const float *w, const float *b, int c_in, int c_out, int kh, int kw,
                               int stride, int pad_t, int pad_b, int pad_l, int pad_r) {
    *out = NULL;
    if (c_in < 1 || c_out < 1 || kh < 1 || kw < 1 || stride < 1)
        return msf_fail(MSF_ERR_INVALID, "bf16 conv %d -> %d, %dx%d, stride %d", c_in, c_out, kh, kw, stride);
    pthread_once(&engine_once, engine_init);
    msf_status s = dnnl_check(engine_status, "CPU engine creation");
    if (s) return s;
    nn_bf16_conv *c = calloc(1, sizeof *c);
    size_t nw = (size_t)c_out * c_in * kh * kw;
    if (c) c->w = malloc(nw * sizeof *c->w), c->b = b ? malloc((size_t)c_out * sizeof *c->b) : NULL;
    if (!c || !c->w || (b && !c->b)) {
        nn_bf16_conv_free(c);
        return msf_fail(MSF_ERR_NOMEM, "out of memory for a bf16 conv");
    }
    *c = (nn_bf16_conv){.cin = c_in,
                        .cout = c_out,
                        .kh = kh,
                        .kw = kw,
                        .stride = stride,
                        .pt = pad_t,
                        .pb = pad_b,
                        .pl = pad_l,
                        .pr = pad_r,
                        .w = c->w,
                        .b = c->b};
    memcpy(c->w, w, nw * sizeof *c->w);
    if (b) memcpy(c->b, b, (size_t)c_out * sizeof *c->b);
    *out = c;
    return MSF_OK;
}

static size_t ceil16(int c) { return ((size_t)c + 15) / 16 * 16; }

size_t nn_bf16_conv_workspace_bytes(int c_in, int c_out, int n, int h, int w, int oh, int ow) {
    return msf_align_up((size_t)n * ceil16(c_in) * h * w * sizeof(uint16_t)) +
           msf_align_up((size_t)n * ceil16(c_out) * oh * ow * sizeof(float)) + 2 * MSF_ALIGN;
}

static void entry_free(conv_entry *e) {
    if (e->conv) dnnl_primitive_destroy(e->conv);
    if (e->to_src) dnnl_primitive_destroy(e->to_src);
    if (e->to_nchw) dnnl_primitive_destroy(e->to_nchw);
    if (e->weights) dnnl_memory_destroy(e->weights);
}

static msf_status entry_make(const nn_bf16_conv *c, int n, int h, int w, conv_entry *e) {
    memset(e, 0, sizeof *e);
    e->n = n, e->h = h, e->w = w;
    e->oh = (h + c->pt + c->pb - c->kh) / c->stride + 1, e->ow = (w + c->pl + c->pr - c->kw) / c->stride + 1;
    dnnl_dims_t sd = {n, c->cin, h, w}, wd = {c->cout, c->cin, c->kh, c->kw}, bd = {c->cout},
                dd = {n, c->cout, e->oh, e->ow}, st = {c->stride, c->stride}, pl = {c->pt, c->pl}, pr = {c->pb, c->pr};
    dnnl_memory_desc_t src, wei, bias, dst, wei_user;
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd = NULL, rpd = NULL;
    dnnl_primitive_t wr = NULL;
    dnnl_memory_t wu = NULL;
    msf_status s = dnnl_check(dnnl_memory_desc_init_by_tag(&src, 4, sd, dnnl_bf16, dnnl_format_tag_any), "memory");
    if (!s) s = dnnl_check(dnnl_memory_desc_init_by_tag(&wei, 4, wd, dnnl_bf16, dnnl_format_tag_any), "memory");
    if (!s) s = dnnl_check(dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_f32, dnnl_a), "memory");
    if (!s) s = dnnl_check(dnnl_memory_desc_init_by_tag(&dst, 4, dd, dnnl_f32, dnnl_format_tag_any), "memory");
    if (!s) s = dnnl_check(dnnl_memory_desc_init_by_tag(&e->src_user, 4, sd, dnnl_f32, dnnl_nchw), "memory");
    if (!s) s = dnnl_check(dnnl_memory_desc_init_by_tag(&e->dst_user, 4, dd, dnnl_f32, dnnl_nchw), "memory");
    if (!s) s = dnnl_check(dnnl_memory_desc_init_by_tag(&wei_user, 4, wd, dnnl_f32, dnnl_oihw), "memory");
    if (!s)
        s = dnnl_check(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &src,
                                                          &wei, c->b ? &bias : NULL, &dst, st, pl, pr),
                       "convolution descriptor");
    if (!s)
        s = dnnl_check(dnnl_primitive_desc_create(&pd, &cd, NULL, engine, NULL), "convolution primitive descriptor");
    if (!s) {
        e->src = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
        e->dst = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
        const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        s = dnnl_check(dnnl_primitive_create(&e->conv, pd), "convolution primitive");
        if (!s) s = dnnl_check(dnnl_memory_create(&e->weights, wmd, engine, DNNL_MEMORY_ALLOCATE), "memory");
        if (!s) s = dnnl_check(dnnl_memory_create(&wu, &wei_user, engine, c->w), "memory");
        if (!s)
            s = dnnl_check(dnnl_reorder_primitive_desc_create(&rpd, &wei_user, engine, wmd, engine, NULL), "reorder");
        if (!s) s = dnnl_check(dnnl_primitive_create(&wr, rpd), "reorder");
        if (!s) {
            dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, wu}, {DNNL_ARG_TO, e->weights}};
            s = dnnl_check(dnnl_primitive_execute(wr, stream, 2, args), "weights reorder");
        }
        if (rpd) dnnl_primitive_desc_destroy(rpd), rpd = NULL;
    }
    if (!s)
        s = dnnl_check(dnnl_reorder_primitive_desc_create(&rpd, &e->src_user, engine, &e->src, engine, NULL),
                       "reorder");
    if (!s) s = dnnl_check(dnnl_primitive_create(&e->to_src, rpd), "reorder");
    if (rpd) dnnl_primitive_desc_destroy(rpd), rpd = NULL;
    if (!s)
        s = dnnl_check(dnnl_reorder_primitive_desc_create(&rpd, &e->dst, engine, &e->dst_user, engine, NULL),
                       "reorder");
    if (!s) s = dnnl_check(dnnl_primitive_create(&e->to_nchw, rpd), "reorder");
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (wr) dnnl_primitive_destroy(wr);
    if (wu) dnnl_memory_destroy(wu);
    if (s) {
        entry_free(e);
        return msf_fail_context(s, "bf16 conv %d -> %d on %dx%d", c->cin, c->cout, h, w);
    }
    return MSF_OK;
}

msf_status nn_bf16_conv_run(nn_bf16_conv *c, float *y, const float *x, int n, int h, int w, msf_arena *ws) {
    int i = 0;
    while (i < c->ne && !(c->e[i].n == n && c->e[i].h == h && c->e[i].w == w)) i++;
    if (i == c->ne) {
        if (c->ne == c->cap) {
            int cap = c->cap ? 2 * c->cap : 4;
            conv_entry *ne = realloc(c->e, (size_t)cap * sizeof *ne);
            if (!ne) return msf_fail(MSF_ERR_NOMEM, "out of memory for a bf16 conv");
            c->e = ne, c->cap = cap;
        }
        msf_status s = entry_make(c, n, h, w, &c->e[i]);
        if (s) return s;
        c->ne++;
    }
    conv_entry *e = &c->e[i];
    size_t sb = msf_align_up(dnnl_memory_desc_get_size(&e->src)), db = msf_align_up(dnnl_memory_desc_get_size(&e->dst));
    size_t mark = ws ? msf_arena_mark(ws) : 0;
    unsigned char *heap, *buf = take(ws, sb + db, &heap);
    if (!buf) return msf_fail(MSF_ERR_NOMEM, "out of memory for a bf16 conv's %zu bytes", sb + db);
    dnnl_memory_t mem[5] = {NULL, NULL, NULL, NULL, NULL};  // x, src, dst, y, bias
    dnnl_memory_desc_t bias;
    dnnl_dims_t bd = {c->cout};
    dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_f32, dnnl_a);
    msf_status s = dnnl_check(dnnl_memory_create(&mem[0], &e->src_user, engine, (void *)x), "memory");
    if (!s) s = dnnl_check(dnnl_memory_create(&mem[1], &e->src, engine, buf), "memory");
    if (!s) s = dnnl_check(dnnl_memory_create(&mem[2], &e->dst, engine, buf + sb), "memory");
    if (!s) s = dnnl_check(dnnl_memory_create(&mem[3], &e->dst_user, engine, y), "memory");
    if (!s && c->b) s = dnnl_check(dnnl_memory_create(&mem[4], &bias, engine, c->b), "memory");
    if (!s) {
        dnnl_exec_arg_t r1[2] = {{DNNL_ARG_FROM, mem[0]}, {DNNL_ARG_TO, mem[1]}};
        dnnl_exec_arg_t cv[4] = {
            {DNNL_ARG_SRC, mem[1]}, {DNNL_ARG_WEIGHTS, e->weights}, {DNNL_ARG_DST, mem[2]}, {DNNL_ARG_BIAS, mem[4]}};
        dnnl_exec_arg_t r2[2] = {{DNNL_ARG_FROM, mem[2]}, {DNNL_ARG_TO, mem[3]}};
        s = dnnl_check(dnnl_primitive_execute(e->to_src, stream, 2, r1), "input reorder");
        if (!s) s = dnnl_check(dnnl_primitive_execute(e->conv, stream, c->b ? 4 : 3, cv), "convolution");
        if (!s) s = dnnl_check(dnnl_primitive_execute(e->to_nchw, stream, 2, r2), "output reorder");
    }
    for (int k = 0; k < 5; k++)
        if (mem[k]) dnnl_memory_destroy(mem[k]);
    if (ws) msf_arena_release(ws, mark);
    msf_aligned_free(heap);
    return s ? msf_fail_context(s, "bf16 conv %d -> %d on %dx%d", c->cin, c->cout, h, w) : MSF_OK;
}

void nn_bf16_conv_free(nn_bf16_conv *c) {
    if (!c) return;
    for (int i = 0; i < c->ne; i++) entry_free(&c->e[i]);
    free(c->e), free(c->w), free(c->b), free(c);
}

#else  // no oneDNN: fp32 only

struct nn_bf16_linear {
    int unused;
};

int nn_bf16_available(void) { return 0; }
const char *nn_bf16_isa(void) { return "none"; }
const char *nn_bf16_library(void) { return "none"; }

msf_status nn_bf16_linear_create(nn_bf16_linear **out, const float *w, const float *b, int K, int N) {
    (void)w, (void)b, (void)K, (void)N;
    *out = NULL;
    return msf_fail(MSF_ERR_INVALID,
                    "this msf was built without oneDNN, so it has no bf16 path (install libdnnl-dev "
                    "and rebuild: make deps && make)");
}

msf_status nn_bf16_linear_run_strided(nn_bf16_linear *l, float *y, int64_t ys0, int64_t ys1, const float *x,
                                      int64_t xs0, int64_t xs1, int M, msf_arena *ws) {
    (void)ys0, (void)ys1, (void)xs0, (void)xs1;
    return nn_bf16_linear_run(l, y, x, M, ws);
}

msf_status nn_bf16_linear_run_bf16(nn_bf16_linear *l, float *y, int64_t ys0, int64_t ys1, const uint16_t *xh, int M,
                                   msf_arena *ws) {
    (void)l, (void)y, (void)ys0, (void)ys1, (void)xh, (void)M, (void)ws;
    return msf_fail(MSF_ERR_INVALID, "this msf was built without oneDNN (no bf16)");
}

msf_status nn_bf16_linear_run(nn_bf16_linear *l, float *y, const float *x, int M, msf_arena *ws) {
    (void)l, (void)y, (void)x, (void)M, (void)ws;
    return msf_fail(MSF_ERR_INVALID, "this msf was built without oneDNN (no bf16)");
}

void nn_bf16_linear_free(nn_bf16_linear *l) { (void)l; }

struct nn_bf16_matmul {
    int unused;
};

msf_status nn_bf16_matmul_create(nn_bf16_matmul **out, int M, int K, int N, const int64_t as[2], const int64_t bs[2],
                                 const int64_t cs[2]) {
    (void)M, (void)K, (void)N, (void)as, (void)bs, (void)cs;
    *out = NULL;
    return msf_fail(MSF_ERR_INVALID, "this msf was built without oneDNN (no bf16)");
}
size_t nn_bf16_matmul_scratch_bytes(const nn_bf16_matmul *mm) {
    (void)mm;
    return 0;
}
msf_status nn_bf16_matmul_run(const nn_bf16_matmul *mm, float *c, const uint16_t *a, const uint16_t *b, void *scratch) {
    (void)mm, (void)c, (void)a, (void)b, (void)scratch;
    return msf_fail(MSF_ERR_INVALID, "this msf was built without oneDNN (no bf16)");
}
void nn_bf16_matmul_free(nn_bf16_matmul *mm) { (void)mm; }

struct nn_bf16_conv {
    int unused;
};
msf_status nn_bf16_conv_create(nn_bf16_conv **out, const float *w, const float *b, int c_in, int c_out, int kh, int kw,
                               int stride, int pad_t, int pad_b, int pad_l, int pad_r) {
    (void)w, (void)b, (void)c_in, (void)c_out, (void)kh, (void)kw, (void)stride, (void)pad_t, (void)pad_b, (void)pad_l,
        (void)pad_r;
    *out = NULL;
    return msf_fail(MSF_ERR_INVALID, "this msf was built without oneDNN (no bf16)");
}
size_t nn_bf16_conv_workspace_bytes(int c_in, int c_out, int n, int h, int w, int oh, int ow) {
    (void)c_in, (void)c_out, (void)n, (void)h, (void)w, (void)oh, (void)ow;
    return 0;
}
msf_status nn_bf16_conv_run(nn_bf16_conv *c, float *y, const float *x, int n, int h, int w, msf_arena *ws) {
    (void)c, (void)y, (void)x, (void)n, (void)h, (void)w, (void)ws;
    return msf_fail(MSF_ERR_INVALID, "this msf was built without oneDNN (no bf16)");
}
void nn_bf16_conv_free(nn_bf16_conv *c) { (void)c; }

#endif
