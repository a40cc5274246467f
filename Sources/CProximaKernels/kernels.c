#include "proxima_kernels.h"

#include <limits.h>
#include <math.h>
#include <sched.h>

#if defined(__linux__)
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

int pk_lower_thread_priority(int nice) {
#if defined(__linux__)
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
#else
    (void)nice;
    return -1;
#endif
}

int pk_yield(void) { return sched_yield(); }

int pk_thread_nice(void) {
#if defined(__linux__)
    return getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
#else
    return 0;
#endif
}

/* Portable versions: plain loops with independent partial sums, which the
   compiler vectorises for the build's baseline (SSE2 on x86-64, NEON on arm64). */

static float dot_portable(const float *a, const float *b, long n) {
    float s[8] = {0};
    long i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += a[i + j] * b[i + j];
    float total = (s[0] + s[1]) + (s[2] + s[3]) + (s[4] + s[5]) + (s[6] + s[7]);
    for (; i < n; i++) total += a[i] * b[i];
    return total;
}

static float l2_portable(const float *a, const float *b, long n) {
    float s[8] = {0};
    long i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) {
            float d = a[i + j] - b[i + j];
            s[j] += d * d;
        }
    float total = (s[0] + s[1]) + (s[2] + s[3]) + (s[4] + s[5]) + (s[6] + s[7]);
    for (; i < n; i++) {
        float d = a[i] - b[i];
        total += d * d;
    }
    return total;
}

static float l1_portable(const float *a, const float *b, long n) {
    float s[8] = {0};
    long i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += fabsf(a[i + j] - b[i + j]);
    float total = (s[0] + s[1]) + (s[2] + s[3]) + (s[4] + s[5]) + (s[6] + s[7]);
    for (; i < n; i++) total += fabsf(a[i] - b[i]);
    return total;
}

/* One query against four vectors: each query load serves four products, and
   the four independent sums keep the FMA units busy (faiss batches the same way). */
static void dot4_portable(const float *q, const float *const *v, long n, float *out) {
    for (int j = 0; j < 4; j++) out[j] = dot_portable(q, v[j], n);
}

static void l2_4_portable(const float *q, const float *const *v, long n, float *out) {
    for (int j = 0; j < 4; j++) out[j] = l2_portable(q, v[j], n);
}

/* Centroids `c..<k` one at a time against the best so far. */
static long nearest_from(const float *v, const float *t, long c, long k, long dim, long best, float best_distance) {
    for (; c < k; c++) {
        float acc = 0;
        for (long d = 0; d < dim; d++) {
            float diff = t[d * k + c] - v[d];
            acc += diff * diff;
        }
        if (acc < best_distance) {
            best_distance = acc;
            best = c;
        }
    }
    return best;
}

/* The first nearest of `k` dimension-major centroids (`t[d * k + c]`),
   ties to the lowest index, 0 when none is nearer than infinity: PQ's
   subspaces are a few dimensions wide, so sixteen centroids per vector op
   beat one kernel call per centroid. */
static long nearest_transposed_portable(const float *v, const float *t, long k, long dim) {
    return nearest_from(v, t, 0, k, dim, 0, INFINITY);
}

typedef long (*nearest_fn)(const float *, const float *, long, long);
static nearest_fn nearest_transposed_impl = nearest_transposed_portable;

/* Squared L2 from `v` to each of `k` dimension-major centroids into `out`:
   one subspace's row of a PQ lookup table. Centroid-major with two-float
   subspaces the loop ran two iterations per centroid and never vectorised;
   dimension-major it runs over 256 contiguous floats, which the compiler
   vectorises at whatever width the caller's target allows. */
static inline __attribute__((always_inline)) void distances_transposed_body(
    const float *restrict v, const float *restrict t, long k, long dim, float *restrict out) {
    for (long c = 0; c < k; c++) out[c] = 0;
    for (long d = 0; d < dim; d++) {
        const float x = v[d];
        const float *restrict row = t + d * k;
        for (long c = 0; c < k; c++) {
            const float diff = row[c] - x;
            out[c] += diff * diff;
        }
    }
}

static void distances_transposed_portable(const float *v, const float *t, long k, long dim, float *out) {
    distances_transposed_body(v, t, k, dim, out);
}

typedef void (*distances_fn)(const float *, const float *, long, long, float *);
static distances_fn distances_transposed_impl = distances_transposed_portable;

typedef float (*kernel_fn)(const float *, const float *, long);
typedef void (*kernel4_fn)(const float *, const float *const *, long, float *);
static kernel4_fn dot4_impl = dot4_portable;
static kernel4_fn l2_4_impl = l2_4_portable;
static kernel_fn dot_impl = dot_portable;
static kernel_fn l2_impl = l2_portable;
static kernel_fn l1_impl = l1_portable;
static const char *instruction_set = "portable";

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

/* ---- AVX2 + FMA: 8 lanes, four accumulators ---- */

__attribute__((target("avx2,fma"))) static inline float hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    __m128 shuf = _mm_movehdup_ps(lo);
    __m128 sums = _mm_add_ps(lo, shuf);
    shuf = _mm_movehl_ps(shuf, sums);
    return _mm_cvtss_f32(_mm_add_ss(sums, shuf));
}

__attribute__((target("avx2,fma"))) static float dot_avx2(const float *a, const float *b, long n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float total = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) total += a[i] * b[i];
    return total;
}

__attribute__((target("avx2,fma"))) static float l2_avx2(const float *a, const float *b, long n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
        __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
        s2 = _mm256_fmadd_ps(d2, d2, s2);
        s3 = _mm256_fmadd_ps(d3, d3, s3);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s0 = _mm256_fmadd_ps(d, d, s0);
    }
    float total = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) {
        float d = a[i] - b[i];
        total += d * d;
    }
    return total;
}

__attribute__((target("avx2,fma"))) static float l1_avx2(const float *a, const float *b, long n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_add_ps(s0, _mm256_andnot_ps(sign, _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i))));
        s1 = _mm256_add_ps(s1, _mm256_andnot_ps(sign, _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8))));
    }
    float total = hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++) total += fabsf(a[i] - b[i]);
    return total;
}

/* ---- AVX-512: 16 lanes, masked tail ---- */

__attribute__((target("avx512f"))) static float dot_avx512(const float *a, const float *b, long n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

__attribute__((target("avx512f"))) static float l2_avx512(const float *a, const float *b, long n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(d, d, s0);
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_fmadd_ps(d, d, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

__attribute__((target("avx512f"))) static float l1_avx512(const float *a, const float *b, long n) {
    __m512 s0 = _mm512_setzero_ps();
    long i = 0;
    for (; i + 16 <= n; i += 16) s0 = _mm512_add_ps(s0, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i))));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        s0 = _mm512_add_ps(s0, _mm512_abs_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i))));
    }
    return _mm512_reduce_add_ps(s0);
}

__attribute__((target("avx2,fma"))) static void dot4_avx2(const float *q, const float *const *v, long n, float *out) {
    const float *a = v[0], *b = v[1], *c = v[2], *d = v[3];
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(q + i);
        s0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(a + i), s0);
        s1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b + i), s1);
        s2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(c + i), s2);
        s3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(d + i), s3);
    }
    out[0] = hsum256(s0);
    out[1] = hsum256(s1);
    out[2] = hsum256(s2);
    out[3] = hsum256(s3);
    for (; i < n; i++) {
        out[0] += q[i] * a[i];
        out[1] += q[i] * b[i];
        out[2] += q[i] * c[i];
        out[3] += q[i] * d[i];
    }
}

__attribute__((target("avx2,fma"))) static void l2_4_avx2(const float *q, const float *const *v, long n, float *out) {
    const float *a = v[0], *b = v[1], *c = v[2], *d = v[3];
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(q + i);
        __m256 d0 = _mm256_sub_ps(x, _mm256_loadu_ps(a + i)), d1 = _mm256_sub_ps(x, _mm256_loadu_ps(b + i));
        __m256 d2 = _mm256_sub_ps(x, _mm256_loadu_ps(c + i)), d3 = _mm256_sub_ps(x, _mm256_loadu_ps(d + i));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
        s2 = _mm256_fmadd_ps(d2, d2, s2);
        s3 = _mm256_fmadd_ps(d3, d3, s3);
    }
    out[0] = hsum256(s0);
    out[1] = hsum256(s1);
    out[2] = hsum256(s2);
    out[3] = hsum256(s3);
    for (; i < n; i++) {
        float e0 = q[i] - a[i], e1 = q[i] - b[i], e2 = q[i] - c[i], e3 = q[i] - d[i];
        out[0] += e0 * e0;
        out[1] += e1 * e1;
        out[2] += e2 * e2;
        out[3] += e3 * e3;
    }
}

__attribute__((target("avx512f"))) static void dot4_avx512(const float *q, const float *const *v, long n, float *out) {
    const float *a = v[0], *b = v[1], *c = v[2], *d = v[3];
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 x = _mm512_loadu_ps(q + i);
        s0 = _mm512_fmadd_ps(x, _mm512_loadu_ps(a + i), s0);
        s1 = _mm512_fmadd_ps(x, _mm512_loadu_ps(b + i), s1);
        s2 = _mm512_fmadd_ps(x, _mm512_loadu_ps(c + i), s2);
        s3 = _mm512_fmadd_ps(x, _mm512_loadu_ps(d + i), s3);
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 x = _mm512_maskz_loadu_ps(m, q + i);
        s0 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, a + i), s0);
        s1 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, b + i), s1);
        s2 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, c + i), s2);
        s3 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, d + i), s3);
    }
    out[0] = _mm512_reduce_add_ps(s0);
    out[1] = _mm512_reduce_add_ps(s1);
    out[2] = _mm512_reduce_add_ps(s2);
    out[3] = _mm512_reduce_add_ps(s3);
}

__attribute__((target("avx512f"))) static void l2_4_avx512(const float *q, const float *const *v, long n, float *out) {
    const float *a = v[0], *b = v[1], *c = v[2], *d = v[3];
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 x = _mm512_loadu_ps(q + i);
        __m512 d0 = _mm512_sub_ps(x, _mm512_loadu_ps(a + i)), d1 = _mm512_sub_ps(x, _mm512_loadu_ps(b + i));
        __m512 d2 = _mm512_sub_ps(x, _mm512_loadu_ps(c + i)), d3 = _mm512_sub_ps(x, _mm512_loadu_ps(d + i));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
        s2 = _mm512_fmadd_ps(d2, d2, s2);
        s3 = _mm512_fmadd_ps(d3, d3, s3);
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 x = _mm512_maskz_loadu_ps(m, q + i);
        __m512 d0 = _mm512_sub_ps(x, _mm512_maskz_loadu_ps(m, a + i)), d1 = _mm512_sub_ps(x, _mm512_maskz_loadu_ps(m, b + i));
        __m512 d2 = _mm512_sub_ps(x, _mm512_maskz_loadu_ps(m, c + i)), d3 = _mm512_sub_ps(x, _mm512_maskz_loadu_ps(m, d + i));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
        s2 = _mm512_fmadd_ps(d2, d2, s2);
        s3 = _mm512_fmadd_ps(d3, d3, s3);
    }
    out[0] = _mm512_reduce_add_ps(s0);
    out[1] = _mm512_reduce_add_ps(s1);
    out[2] = _mm512_reduce_add_ps(s2);
    out[3] = _mm512_reduce_add_ps(s3);
}

/* The lanes' best (distance, index) pairs, then the scalar tail: the first nearest overall. */
static long nearest_finish(const float *lane_distance, const int *lane_index, int lanes, const float *v, const float *t, long c, long k, long dim) {
    long best = 0;
    float best_distance = INFINITY;
    for (int lane = 0; lane < lanes; lane++) {
        if (lane_index[lane] == INT_MAX) continue;
        if (lane_distance[lane] < best_distance || (lane_distance[lane] == best_distance && lane_index[lane] < best)) {
            best_distance = lane_distance[lane];
            best = lane_index[lane];
        }
    }
    return nearest_from(v, t, c, k, dim, best, best_distance);
}

__attribute__((target("avx2,fma"))) static long nearest_transposed_avx2(const float *v, const float *t, long k, long dim) {
    __m256 best = _mm256_set1_ps(INFINITY);
    __m256i best_index = _mm256_set1_epi32(INT_MAX), index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i eight = _mm256_set1_epi32(8);
    long c = 0;
    for (; c + 8 <= k; c += 8) {
        __m256 acc = _mm256_setzero_ps();
        for (long d = 0; d < dim; d++) {
            __m256 diff = _mm256_sub_ps(_mm256_loadu_ps(t + d * k + c), _mm256_set1_ps(v[d]));
            acc = _mm256_fmadd_ps(diff, diff, acc);
        }
        __m256 closer = _mm256_cmp_ps(acc, best, _CMP_LT_OQ);
        best = _mm256_blendv_ps(best, acc, closer);
        best_index = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(best_index), _mm256_castsi256_ps(index), closer));
        index = _mm256_add_epi32(index, eight);
    }
    float lane_distance[8];
    int lane_index[8];
    _mm256_storeu_ps(lane_distance, best);
    _mm256_storeu_si256((__m256i *)lane_index, best_index);
    return nearest_finish(lane_distance, lane_index, 8, v, t, c, k, dim);
}

__attribute__((target("avx512f"))) static long nearest_transposed_avx512(const float *v, const float *t, long k, long dim) {
    __m512 best = _mm512_set1_ps(INFINITY);
    __m512i best_index = _mm512_set1_epi32(INT_MAX), index = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i sixteen = _mm512_set1_epi32(16);
    long c = 0;
    for (; c + 16 <= k; c += 16) {
        __m512 acc = _mm512_setzero_ps();
        for (long d = 0; d < dim; d++) {
            __m512 diff = _mm512_sub_ps(_mm512_loadu_ps(t + d * k + c), _mm512_set1_ps(v[d]));
            acc = _mm512_fmadd_ps(diff, diff, acc);
        }
        __mmask16 closer = _mm512_cmp_ps_mask(acc, best, _CMP_LT_OQ);
        best = _mm512_mask_blend_ps(closer, best, acc);
        best_index = _mm512_mask_blend_epi32(closer, best_index, index);
        index = _mm512_add_epi32(index, sixteen);
    }
    if (c == k && k >= 16) {
        /* No tail: the smallest distance, then the lowest index among the lanes holding it. */
        float least = _mm512_reduce_min_ps(best);
        __mmask16 holding = _mm512_cmp_ps_mask(best, _mm512_set1_ps(least), _CMP_EQ_OQ);
        /* Every distance infinite (huge values overflow): no lane was set, and the answer is 0. */
        if (least < INFINITY) return _mm512_mask_reduce_min_epi32(holding, best_index);
    }
    float lane_distance[16];
    int lane_index[16];
    _mm512_storeu_ps(lane_distance, best);
    _mm512_storeu_si512(lane_index, best_index);
    return nearest_finish(lane_distance, lane_index, 16, v, t, c, k, dim);
}

__attribute__((target("avx2,fma"))) static void distances_transposed_avx2(const float *v, const float *t, long k, long dim, float *out) {
    distances_transposed_body(v, t, k, dim, out);
}

__attribute__((target("avx512f"))) static void distances_transposed_avx512(const float *v, const float *t, long k, long dim, float *out) {
    distances_transposed_body(v, t, k, dim, out);
}

__attribute__((constructor)) static void choose_kernels(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        dot_impl = dot_avx512;
        l2_impl = l2_avx512;
        l1_impl = l1_avx512;
        dot4_impl = dot4_avx512;
        l2_4_impl = l2_4_avx512;
        nearest_transposed_impl = nearest_transposed_avx512;
        distances_transposed_impl = distances_transposed_avx512;
        instruction_set = "avx512";
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        dot_impl = dot_avx2;
        l2_impl = l2_avx2;
        l1_impl = l1_avx2;
        dot4_impl = dot4_avx2;
        l2_4_impl = l2_4_avx2;
        nearest_transposed_impl = nearest_transposed_avx2;
        distances_transposed_impl = distances_transposed_avx2;
        instruction_set = "avx2";
    }
}
#endif

float pk_dot(const float *a, const float *b, long n) { return dot_impl(a, b, n); }
float pk_squared_l2(const float *a, const float *b, long n) { return l2_impl(a, b, n); }
float pk_l1(const float *a, const float *b, long n) { return l1_impl(a, b, n); }
void pk_dot4(const float *q, const float *const *v, long n, float *out) { dot4_impl(q, v, n, out); }
void pk_squared_l2_4(const float *q, const float *const *v, long n, float *out) { l2_4_impl(q, v, n, out); }
long pk_nearest_transposed(const float *v, const float *t, long k, long dim) { return nearest_transposed_impl(v, t, k, dim); }
void pk_distances_transposed(const float *v, const float *t, long k, long dim, float *out) { distances_transposed_impl(v, t, k, dim, out); }
const char *pk_instruction_set(void) { return instruction_set; }
