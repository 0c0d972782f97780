// AVX2+FMA GEMM kernel: a 6x16 register-tile micro-kernel and vectorized packing, chosen at run time.

#include "gemm_internal.h"

#ifdef MLSEC_HAVE_X86

#include <immintrin.h>

#if MLSEC_MR != 6 || MLSEC_NR != 16
#error "the AVX2 micro-kernel is written for a 6x16 register tile"
#endif

/// Compiles one function for AVX2+FMA without changing the flags of the rest of the target.
#define MLSEC_AVX2 __attribute__((target("avx2,fma")))

/// Transposes the 8x8 block held in r[0..<8] (row i in r[i]) in place.
MLSEC_AVX2 static inline void transpose8(__m256 r[8]) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    // s0: column 0 (low lane) and 4 (high lane) of rows 0-3; s1: columns 1 and 5; s2: 2 and 6; s3: 3 and 7.
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

MLSEC_AVX2 void mlsec_pack_a_avx2(int trans, ptrdiff_t mc, ptrdiff_t kc, const float *a, ptrdiff_t lda,
                                  float *dst) {
    // Lanes 0-5 on: loads the 6 floats of one packed column without touching memory past them.
    const __m256i six = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);
    ptrdiff_t i = 0;
    for (; i + MLSEC_MR <= mc; i += MLSEC_MR) {
        if (!trans) {
            // Transpose 8x8 blocks of six rows (two zero rows): each output column is stored 8 wide and
            // its last 2 floats are overwritten by the next column (or land in the slack).
            const float *src = a + i * lda;
            ptrdiff_t p = 0;
            for (; p + 8 <= kc; p += 8) {
                __m256 r[8];
                for (int q = 0; q < MLSEC_MR; ++q) r[q] = _mm256_loadu_ps(src + q * lda + p);
                r[6] = _mm256_setzero_ps();
                r[7] = _mm256_setzero_ps();
                transpose8(r);
                for (int q = 0; q < 8; ++q) _mm256_storeu_ps(dst + (p + q) * MLSEC_MR, r[q]);
            }
            for (; p < kc; ++p) {
                for (int q = 0; q < MLSEC_MR; ++q) dst[p * MLSEC_MR + q] = src[q * lda + p];
            }
        } else {
            const float *src = a + i;
            for (ptrdiff_t p = 0; p < kc; ++p) {
                _mm256_storeu_ps(dst + p * MLSEC_MR, _mm256_maskload_ps(src + p * lda, six));
            }
        }
        dst += MLSEC_MR * kc;
    }
    if (i < mc) mlsec_pack_a_portable(trans, mc - i, kc, trans ? a + i : a + i * lda, lda, dst);
}

MLSEC_AVX2 void mlsec_pack_b_avx2(int trans, ptrdiff_t kc, ptrdiff_t nc, const float *b, ptrdiff_t ldb,
                                  float *dst) {
    ptrdiff_t j = 0;
    for (; j + MLSEC_NR <= nc; j += MLSEC_NR) {
        if (!trans) {
            const float *src = b + j;
            for (ptrdiff_t p = 0; p < kc; ++p) {
                _mm256_store_ps(dst + p * MLSEC_NR, _mm256_loadu_ps(src + p * ldb));
                _mm256_store_ps(dst + p * MLSEC_NR + 8, _mm256_loadu_ps(src + p * ldb + 8));
            }
        } else {
            // Sixteen rows of B become sixteen columns of the sliver: two 8x8 transposes per 8 values of k.
            const float *src = b + j * ldb;
            ptrdiff_t p = 0;
            for (; p + 8 <= kc; p += 8) {
                for (int half = 0; half < 2; ++half) {
                    __m256 r[8];
                    for (int q = 0; q < 8; ++q) r[q] = _mm256_loadu_ps(src + (half * 8 + q) * ldb + p);
                    transpose8(r);
                    for (int q = 0; q < 8; ++q) _mm256_store_ps(dst + (p + q) * MLSEC_NR + half * 8, r[q]);
                }
            }
            for (; p < kc; ++p) {
                for (int q = 0; q < MLSEC_NR; ++q) dst[p * MLSEC_NR + q] = src[q * ldb + p];
            }
        }
        dst += MLSEC_NR * kc;
    }
    if (j < nc) mlsec_pack_b_portable(trans, kc, nc - j, trans ? b + j * ldb : b + j, ldb, dst);
}

/// One step of k: broadcast A[row] and accumulate it times the two B vectors into the row's accumulators.
#define MLSEC_FMA_ROW(row)                                                                                    \
    do {                                                                                                      \
        const __m256 ar = _mm256_broadcast_ss(a + (row));                                                     \
        c##row##0 = _mm256_fmadd_ps(ar, b0, c##row##0);                                                       \
        c##row##1 = _mm256_fmadd_ps(ar, b1, c##row##1);                                                       \
    } while (0)

/// Writes one row of the tile: out = alpha * acc (beta == 0), out + alpha * acc (beta == 1), else
/// alpha * acc + beta * out.
#define MLSEC_STORE_ROW(row)                                                                                  \
    do {                                                                                                      \
        float *out = dst + (row) * ld;                                                                        \
        if (beta == 0.0f) {                                                                                   \
            _mm256_storeu_ps(out, _mm256_mul_ps(va, c##row##0));                                              \
            _mm256_storeu_ps(out + 8, _mm256_mul_ps(va, c##row##1));                                          \
        } else if (beta == 1.0f) {                                                                            \
            _mm256_storeu_ps(out, _mm256_fmadd_ps(va, c##row##0, _mm256_loadu_ps(out)));                      \
            _mm256_storeu_ps(out + 8, _mm256_fmadd_ps(va, c##row##1, _mm256_loadu_ps(out + 8)));              \
        } else {                                                                                              \
            _mm256_storeu_ps(out, _mm256_fmadd_ps(va, c##row##0, _mm256_mul_ps(vb, _mm256_loadu_ps(out))));   \
            _mm256_storeu_ps(out + 8,                                                                         \
                             _mm256_fmadd_ps(va, c##row##1, _mm256_mul_ps(vb, _mm256_loadu_ps(out + 8))));    \
        }                                                                                                     \
    } while (0)

MLSEC_AVX2 void mlsec_kernel_avx2(ptrdiff_t kc, const float *restrict a, const float *restrict b,
                                  float *restrict c, ptrdiff_t ldc, float alpha, float beta, ptrdiff_t mr,
                                  ptrdiff_t nr) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();

#if defined(__clang__)
#pragma clang loop unroll_count(4)
#endif
    for (ptrdiff_t p = 0; p < kc; ++p) {
        const __m256 b0 = _mm256_load_ps(b);
        const __m256 b1 = _mm256_load_ps(b + 8);
        MLSEC_FMA_ROW(0);
        MLSEC_FMA_ROW(1);
        MLSEC_FMA_ROW(2);
        MLSEC_FMA_ROW(3);
        MLSEC_FMA_ROW(4);
        MLSEC_FMA_ROW(5);
        a += MLSEC_MR;
        b += MLSEC_NR;
    }

    // Edge tiles go through a full-size scratch tile so that they round exactly like interior tiles.
    const int full = mr == MLSEC_MR && nr == MLSEC_NR;
    float tile[MLSEC_MR * MLSEC_NR] __attribute__((aligned(32)));
    float *dst = c;
    ptrdiff_t ld = ldc;
    if (!full) {
        dst = tile;
        ld = MLSEC_NR;
        if (beta != 0.0f) {
            for (ptrdiff_t r = 0; r < MLSEC_MR; ++r) {
                for (ptrdiff_t j = 0; j < MLSEC_NR; ++j) {
                    tile[r * MLSEC_NR + j] = (r < mr && j < nr) ? c[r * ldc + j] : 0.0f;
                }
            }
        }
    }
    const __m256 va = _mm256_set1_ps(alpha);
    const __m256 vb = _mm256_set1_ps(beta);
    MLSEC_STORE_ROW(0);
    MLSEC_STORE_ROW(1);
    MLSEC_STORE_ROW(2);
    MLSEC_STORE_ROW(3);
    MLSEC_STORE_ROW(4);
    MLSEC_STORE_ROW(5);
    if (!full) {
        for (ptrdiff_t r = 0; r < mr; ++r) {
            for (ptrdiff_t j = 0; j < nr; ++j) c[r * ldc + j] = tile[r * MLSEC_NR + j];
        }
    }
}

#endif
