// GEMM driver (packing, cache blocking, kernel choice) and the portable plain-C kernel.

#include "CMLSecKernels.h"
#include "gemm_internal.h"

#include <stdlib.h>

typedef struct {
    mlsec_pack_a_fn pack_a;
    mlsec_pack_b_fn pack_b;
    mlsec_kernel_fn kernel;
} gemm_impl;

static ptrdiff_t min_pd(ptrdiff_t x, ptrdiff_t y) { return x < y ? x : y; }
static ptrdiff_t round_up(ptrdiff_t x, ptrdiff_t unit) { return (x + unit - 1) / unit * unit; }

/// The size of each of the fewest equal blocks, at most `limit` long, that cover `extent`.
static ptrdiff_t even_block(ptrdiff_t extent, ptrdiff_t limit) {
    const ptrdiff_t blocks = (extent + limit - 1) / limit;
    return (extent + blocks - 1) / blocks;
}

/// Whether the AVX2+FMA kernel can run here (CPU and OS both support the 256-bit state).
static int avx2_usable(void) {
#if defined(MLSEC_HAVE_X86) && (defined(__clang__) || defined(__GNUC__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

const char *mlsec_sgemm_kernel_name(int force_portable) {
    return (!force_portable && avx2_usable()) ? "avx2+fma" : "portable";
}

ptrdiff_t mlsec_sgemm_tile_rows(void) { return MLSEC_MR; }
ptrdiff_t mlsec_sgemm_tile_cols(void) { return MLSEC_NR; }

// MARK: - Portable kernel

void mlsec_pack_a_portable(int trans, ptrdiff_t mc, ptrdiff_t kc, const float *a, ptrdiff_t lda, float *dst) {
    for (ptrdiff_t i = 0; i < mc; i += MLSEC_MR) {
        const ptrdiff_t mr = min_pd(MLSEC_MR, mc - i);
        if (!trans) {
            // op(A)[i + r][p] = a[(i + r) * lda + p]: read each row contiguously.
            const float *src = a + i * lda;
            for (ptrdiff_t r = 0; r < mr; ++r) {
                const float *row = src + r * lda;
                for (ptrdiff_t p = 0; p < kc; ++p) dst[p * MLSEC_MR + r] = row[p];
            }
        } else {
            // op(A)[i + r][p] = a[p * lda + i + r]: each packed column is contiguous in A.
            const float *src = a + i;
            for (ptrdiff_t p = 0; p < kc; ++p) {
                for (ptrdiff_t r = 0; r < mr; ++r) dst[p * MLSEC_MR + r] = src[p * lda + r];
            }
        }
        for (ptrdiff_t r = mr; r < MLSEC_MR; ++r) {
            for (ptrdiff_t p = 0; p < kc; ++p) dst[p * MLSEC_MR + r] = 0.0f;
        }
        dst += MLSEC_MR * kc;
    }
}

void mlsec_pack_b_portable(int trans, ptrdiff_t kc, ptrdiff_t nc, const float *b, ptrdiff_t ldb, float *dst) {
    for (ptrdiff_t j = 0; j < nc; j += MLSEC_NR) {
        const ptrdiff_t nr = min_pd(MLSEC_NR, nc - j);
        if (!trans) {
            // op(B)[p][j + c] = b[p * ldb + j + c]: each packed row is contiguous in B.
            const float *src = b + j;
            for (ptrdiff_t p = 0; p < kc; ++p) {
                for (ptrdiff_t c = 0; c < nr; ++c) dst[p * MLSEC_NR + c] = src[p * ldb + c];
            }
        } else {
            // op(B)[p][j + c] = b[(j + c) * ldb + p]: read each row of B contiguously.
            const float *src = b + j * ldb;
            for (ptrdiff_t c = 0; c < nr; ++c) {
                const float *row = src + c * ldb;
                for (ptrdiff_t p = 0; p < kc; ++p) dst[p * MLSEC_NR + c] = row[p];
            }
        }
        for (ptrdiff_t p = 0; p < kc; ++p) {
            for (ptrdiff_t c = nr; c < MLSEC_NR; ++c) dst[p * MLSEC_NR + c] = 0.0f;
        }
        dst += MLSEC_NR * kc;
    }
}

void mlsec_kernel_portable(ptrdiff_t kc, const float *restrict a, const float *restrict b, float *restrict c,
                           ptrdiff_t ldc, float alpha, float beta, ptrdiff_t mr, ptrdiff_t nr) {
    // Two passes of eight columns: a 6x8 accumulator block fits the sixteen registers of SSE2 or NEON.
    enum { HALF = MLSEC_NR / 2 };
    for (ptrdiff_t h = 0; h < MLSEC_NR && h < nr; h += HALF) {
        float acc[MLSEC_MR][HALF] = {{0.0f}};
        const float *ap = a;
        const float *bp = b + h;
        for (ptrdiff_t p = 0; p < kc; ++p) {
            for (int r = 0; r < MLSEC_MR; ++r) {
                const float ar = ap[r];
                for (int j = 0; j < HALF; ++j) acc[r][j] += ar * bp[j];
            }
            ap += MLSEC_MR;
            bp += MLSEC_NR;
        }
        const ptrdiff_t width = nr - h < HALF ? nr - h : HALF;
        for (ptrdiff_t r = 0; r < mr; ++r) {
            float *row = c + r * ldc + h;
            if (beta == 0.0f) {
                for (ptrdiff_t j = 0; j < width; ++j) row[j] = alpha * acc[r][j];
            } else if (beta == 1.0f) {
                for (ptrdiff_t j = 0; j < width; ++j) row[j] += alpha * acc[r][j];
            } else {
                for (ptrdiff_t j = 0; j < width; ++j) row[j] = alpha * acc[r][j] + beta * row[j];
            }
        }
    }
}

// MARK: - Driver

/// C = beta * C, writing zeros (not beta * NaN) when beta == 0.
static void scale_c(ptrdiff_t m, ptrdiff_t n, float beta, float *c, ptrdiff_t ldc) {
    if (beta == 1.0f) return;
    for (ptrdiff_t i = 0; i < m; ++i) {
        float *row = c + i * ldc;
        if (beta == 0.0f) {
            for (ptrdiff_t j = 0; j < n; ++j) row[j] = 0.0f;
        } else {
            for (ptrdiff_t j = 0; j < n; ++j) row[j] *= beta;
        }
    }
}

/// Unblocked product, used only when the packing buffers cannot be allocated.
static void sgemm_unpacked(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                           const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta, float *c,
                           ptrdiff_t ldc) {
    for (ptrdiff_t i = 0; i < m; ++i) {
        for (ptrdiff_t j = 0; j < n; ++j) {
            float sum = 0.0f;
            for (ptrdiff_t p = 0; p < k; ++p) {
                const float x = trans_a ? a[p * lda + i] : a[i * lda + p];
                const float y = trans_b ? b[j * ldb + p] : b[p * ldb + j];
                sum += x * y;
            }
            float *out = c + i * ldc + j;
            *out = beta == 0.0f ? alpha * sum : alpha * sum + beta * *out;
        }
    }
}

/// The kernel and packers for this call.
static gemm_impl choose_impl(int force_portable) {
    gemm_impl impl = {mlsec_pack_a_portable, mlsec_pack_b_portable, mlsec_kernel_portable};
#ifdef MLSEC_HAVE_X86
    if (!force_portable && avx2_usable()) {
        impl = (gemm_impl){mlsec_pack_a_avx2, mlsec_pack_b_avx2, mlsec_kernel_avx2};
    }
#else
    (void)force_portable;
#endif
    return impl;
}

/// Depth of each k block. Even blocks: k = 784 with KC = 256 runs as 4 x 196 (rounded to 200), not
/// 3 x 256 + 16, so no block is too thin to pay for its packing and its pass over C. It depends on k alone,
/// which keeps every element's summation order the same however a caller splits C into blocks.
static ptrdiff_t kc_step_for(ptrdiff_t k) { return min_pd(round_up(even_block(k, MLSEC_KC), 8), MLSEC_KC); }

/// Allocates 64-byte-aligned floats, or returns NULL.
static float *alloc_floats(ptrdiff_t count) {
    void *buffer = NULL;
    if (posix_memalign(&buffer, 64, (size_t)count * sizeof(float)) != 0) return NULL;
    return (float *)buffer;
}

/// C[0..<m][0..<nc] (+)= alpha * op(A)[0..<m][pc..<pc+kc] * (packed B block), one MC block of A at a time.
/// `a` points at op(A)[0][pc]; `packed_a` has room for mc_step x kc floats plus slack.
static void multiply_block(const gemm_impl *impl, int trans_a, ptrdiff_t m, ptrdiff_t nc, ptrdiff_t kc,
                           ptrdiff_t mc_step, float alpha, const float *a, ptrdiff_t lda, const float *packed_b,
                           float beta, float *c, ptrdiff_t ldc, float *packed_a) {
    for (ptrdiff_t ic = 0; ic < m; ic += mc_step) {
        const ptrdiff_t mc = min_pd(mc_step, m - ic);
        impl->pack_a(trans_a, mc, kc, trans_a ? a + ic : a + ic * lda, lda, packed_a);
        for (ptrdiff_t jr = 0; jr < nc; jr += MLSEC_NR) {
            const ptrdiff_t nr = min_pd(MLSEC_NR, nc - jr);
            const float *b_sliver = packed_b + jr * kc;
            for (ptrdiff_t ir = 0; ir < mc; ir += MLSEC_MR) {
                const ptrdiff_t mr = min_pd(MLSEC_MR, mc - ir);
                impl->kernel(kc, packed_a + ir * kc, b_sliver, c + (ic + ir) * ldc + jr, ldc, alpha, beta, mr, nr);
            }
        }
    }
}

void mlsec_sgemm(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                 const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta, float *c,
                 ptrdiff_t ldc, int force_portable) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0.0f) {
        scale_c(m, n, beta, c, ldc);
        return;
    }
    const gemm_impl impl = choose_impl(force_portable);
    const ptrdiff_t kc_step = kc_step_for(k);
    const ptrdiff_t mc_step = round_up(even_block(m, MLSEC_MC), MLSEC_MR);
    const ptrdiff_t nc_step = round_up(even_block(n, MLSEC_NC), MLSEC_NR);
    const ptrdiff_t a_floats = round_up(mc_step * kc_step + MLSEC_PACK_SLACK, 16);
    const ptrdiff_t b_floats = nc_step * kc_step + MLSEC_PACK_SLACK;
    float *packed_a = alloc_floats(a_floats + b_floats);
    if (packed_a == NULL) {
        sgemm_unpacked(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    float *packed_b = packed_a + a_floats;

    for (ptrdiff_t jc = 0; jc < n; jc += nc_step) {
        const ptrdiff_t nc = min_pd(nc_step, n - jc);
        for (ptrdiff_t pc = 0; pc < k; pc += kc_step) {
            const ptrdiff_t kc = min_pd(kc_step, k - pc);
            impl.pack_b(trans_b, kc, nc, trans_b ? b + jc * ldb + pc : b + pc * ldb + jc, ldb, packed_b);
            // Only the first slice of k applies beta; later slices accumulate.
            multiply_block(&impl, trans_a, m, nc, kc, mc_step, alpha, trans_a ? a + pc * lda : a + pc, lda,
                           packed_b, pc == 0 ? beta : 1.0f, c + jc, ldc, packed_a);
        }
    }
    free(packed_a);
}

// MARK: - Shared packed B

ptrdiff_t mlsec_sgemm_packed_b_count(ptrdiff_t n, ptrdiff_t k) {
    if (n <= 0 || k <= 0) return 0;
    return round_up(n, MLSEC_NR) * k + MLSEC_PACK_SLACK;
}

void mlsec_sgemm_pack_b(int trans_b, ptrdiff_t n, ptrdiff_t k, const float *b, ptrdiff_t ldb, float *packed,
                        int force_portable) {
    if (n <= 0 || k <= 0) return;
    const gemm_impl impl = choose_impl(force_portable);
    const ptrdiff_t kc_step = kc_step_for(k);
    const ptrdiff_t n_round = round_up(n, MLSEC_NR);
    // Block pc (kc deep) starts at pc * n_round; inside it, sliver j of NR columns starts at j * kc.
    for (ptrdiff_t pc = 0; pc < k; pc += kc_step) {
        const ptrdiff_t kc = min_pd(kc_step, k - pc);
        impl.pack_b(trans_b, kc, n, trans_b ? b + pc : b + pc * ldb, ldb, packed + pc * n_round);
    }
}

void mlsec_sgemm_packed(int trans_a, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha, const float *a,
                        ptrdiff_t lda, const float *packed_b, float beta, float *c, ptrdiff_t ldc,
                        int force_portable) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0.0f) {
        scale_c(m, n, beta, c, ldc);
        return;
    }
    const gemm_impl impl = choose_impl(force_portable);
    const ptrdiff_t kc_step = kc_step_for(k);
    const ptrdiff_t mc_step = round_up(even_block(m, MLSEC_MC), MLSEC_MR);
    const ptrdiff_t nc_step = round_up(even_block(n, MLSEC_NC), MLSEC_NR);
    const ptrdiff_t n_round = round_up(n, MLSEC_NR);
    float *packed_a = alloc_floats(round_up(mc_step * kc_step + MLSEC_PACK_SLACK, 16));
    if (packed_a == NULL) {
        // Multiply sliver by sliver straight from the packed panel: slow, but needs no memory.
        for (ptrdiff_t i = 0; i < m; ++i) {
            for (ptrdiff_t j = 0; j < n; ++j) {
                float sum = 0.0f;
                for (ptrdiff_t pc = 0; pc < k; pc += kc_step) {
                    const ptrdiff_t kc = min_pd(kc_step, k - pc);
                    const float *sliver = packed_b + pc * n_round + (j / MLSEC_NR) * MLSEC_NR * kc + j % MLSEC_NR;
                    for (ptrdiff_t p = 0; p < kc; ++p) {
                        sum += (trans_a ? a[(pc + p) * lda + i] : a[i * lda + pc + p]) * sliver[p * MLSEC_NR];
                    }
                }
                float *out = c + i * ldc + j;
                *out = beta == 0.0f ? alpha * sum : alpha * sum + beta * *out;
            }
        }
        return;
    }
    for (ptrdiff_t jc = 0; jc < n; jc += nc_step) {
        const ptrdiff_t nc = min_pd(nc_step, n - jc);
        for (ptrdiff_t pc = 0; pc < k; pc += kc_step) {
            const ptrdiff_t kc = min_pd(kc_step, k - pc);
            multiply_block(&impl, trans_a, m, nc, kc, mc_step, alpha, trans_a ? a + pc * lda : a + pc, lda,
                           packed_b + pc * n_round + jc * kc, pc == 0 ? beta : 1.0f, c + jc, ldc, packed_a);
        }
    }
    free(packed_a);
}
