/* CRC-32C with the CPU's own instruction (SSE4.2's crc32, eight bytes a step):
   every WAL object and manifest is checksummed as it is written and read, and
   the table-driven version costs about a nanosecond per byte. */
#include "proxima_kernels.h"
#include <stdint.h>
#include <string.h>

static int has_crc32c = 0;

#if defined(__x86_64__) || defined(_M_X64)
#include <nmmintrin.h>

__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const unsigned char *p, long n) {
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
    return c32;
}

__attribute__((constructor)) static void choose_crc32c(void) {
    __builtin_cpu_init();
    has_crc32c = __builtin_cpu_supports("sse4.2");
}
#endif

int pk_has_crc32c(void) { return has_crc32c; }

unsigned int pk_crc32c_update(unsigned int crc, const unsigned char *p, long n) {
#if defined(__x86_64__) || defined(_M_X64)
    if (has_crc32c) return crc32c_sse42(crc, p, n);
#endif
    (void)p;
    (void)n;
    return crc;  /* callers check pk_has_crc32c() first */
}
