#ifndef PROXIMA_KERNELS_H
#define PROXIMA_KERNELS_H

/// Distance kernels chosen at load time for the CPU they run on (AVX-512,
/// AVX2 with FMA, or portable C the compiler vectorises). Swift cannot build
/// one function for several instruction sets, so these live in C.

#ifdef __cplusplus
extern "C" {
#endif

float pk_dot(const float *a, const float *b, long n);
float pk_squared_l2(const float *a, const float *b, long n);
float pk_l1(const float *a, const float *b, long n);
/// `q` against the four vectors `v[0..3]`, into `out[0..3]`.
void pk_dot4(const float *q, const float *const *v, long n, float *out);
void pk_squared_l2_4(const float *q, const float *const *v, long n, float *out);
/// The first nearest (squared L2) of `k` centroids stored dimension-major
/// (`t[d * k + c]`) to `v`, ties to the lowest index: for PQ's narrow subspaces.
long pk_nearest_transposed(const float *v, const float *t, long k, long dim);
/// Squared L2 from `v` to each of `k` centroids stored dimension-major, into `out[0..<k]`.
void pk_distances_transposed(const float *v, const float *t, long k, long dim, float *out);
/// Asks the CPU to start loading the cache line at `p` (graph searches issue
/// it for the next vectors they will read, as hnswlib does).
static inline void pk_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

/// A one-byte spin lock (0 free, 1 held) per graph node, for the concurrent
/// HNSW build: held for a few hundred nanoseconds while a link list is
/// rewritten, so spinning beats a futex. Build threads run at a lower
/// priority and are preempted, sometimes holding a lock: past a few hundred
/// pauses the waiter yields its core rather than spin out its time slice.
int pk_yield(void);
static inline void pk_spin_lock(unsigned char *lock) {
    while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE)) {
        int spins = 0;
        while (__atomic_load_n(lock, __ATOMIC_RELAXED)) {
            if (++spins > 256) {
                pk_yield();
                continue;
            }
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#elif defined(__aarch64__)
            __asm__ __volatile__("yield");
#endif
        }
    }
}
static inline void pk_spin_unlock(unsigned char *lock) { __atomic_store_n(lock, 0, __ATOMIC_RELEASE); }

/// A link list's length and slots as the concurrent build's searches read
/// them: without the node's lock. A list rewritten meanwhile reads as a mix
/// of its old and new slots (node ids, or -1 where none was written yet),
/// which a search tolerates: it only picks where to look next. Taking the
/// lock on every list a search expanded was a seventh of the insertion
/// search's own time under perf (an atomic exchange on a cache line the
/// other threads write too).
static inline unsigned short pk_load_u16(const unsigned short *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline int pk_load_i32(const int *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

/// Lowers the calling thread's scheduling priority to `nice` (Linux: per
/// thread); 0 on success. Index builds run so, and queries preempt them.
int pk_lower_thread_priority(int nice);
/// The calling thread's nice value (0 where threads have none of their own).
int pk_thread_nice(void);

/// "avx512", "avx2" or "portable": which kernels were chosen.
const char *pk_instruction_set(void);

/* CRC-32C by the CPU's instruction where it has one (pk_has_crc32c): the
   running state in and out, without the initial and final inversions. */
int pk_has_crc32c(void);
unsigned int pk_crc32c_update(unsigned int crc, const unsigned char *p, long n);

#ifdef __cplusplus
}
#endif

#endif
