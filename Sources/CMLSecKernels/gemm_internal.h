// Internal declarations shared by the GEMM driver and its portable and AVX2+FMA kernels.

#ifndef MLSEC_GEMM_INTERNAL_H
#define MLSEC_GEMM_INTERNAL_H

#include <stddef.h>

/// Register tile: each micro-kernel call computes an MLSEC_MR x MLSEC_NR block of C.
#define MLSEC_MR 6
#define MLSEC_NR 16

/// Cache blocking: a KC-deep sliver pair (A: MR x KC, B: KC x NR) fits in L1; an MC x KC packed block of A
/// stays in L2; a KC x NC packed panel of B stays in the last-level cache.
#ifndef MLSEC_KC
#define MLSEC_KC 256
#endif
#ifndef MLSEC_MC
#define MLSEC_MC 144
#endif
#ifndef MLSEC_NC
#define MLSEC_NC 4096
#endif

/// Packs op(A)[0..<mc][0..<kc] into MR-row slivers, each stored column by column (MR floats per column),
/// the last sliver zero-padded. `a` points at op(A)[0][0]: A is m x k (row stride lda) when trans == 0,
/// k x m when trans != 0. `dst` must have room for round_up(mc, MR) * kc floats plus MLSEC_PACK_SLACK.
typedef void (*mlsec_pack_a_fn)(int trans, ptrdiff_t mc, ptrdiff_t kc, const float *a, ptrdiff_t lda,
                                float *dst);

/// Packs op(B)[0..<kc][0..<nc] into NR-column slivers, each stored row by row (NR floats per row), the last
/// sliver zero-padded. `b` points at op(B)[0][0]: B is k x n when trans == 0, n x k when trans != 0.
typedef void (*mlsec_pack_b_fn)(int trans, ptrdiff_t kc, ptrdiff_t nc, const float *b, ptrdiff_t ldb,
                                float *dst);

/// Multiplies a packed A sliver (MR x kc) by a packed B sliver (kc x NR) and writes the top-left mr x nr
/// corner: C = alpha * AB + beta * C, reading C only when beta != 0.
typedef void (*mlsec_kernel_fn)(ptrdiff_t kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                                float alpha, float beta, ptrdiff_t mr, ptrdiff_t nr);

/// Floats of slack after each packing buffer, for vector packers that store a little past the end.
#define MLSEC_PACK_SLACK 64

void mlsec_pack_a_portable(int trans, ptrdiff_t mc, ptrdiff_t kc, const float *a, ptrdiff_t lda, float *dst);
void mlsec_pack_b_portable(int trans, ptrdiff_t kc, ptrdiff_t nc, const float *b, ptrdiff_t ldb, float *dst);
void mlsec_kernel_portable(ptrdiff_t kc, const float *a, const float *b, float *c, ptrdiff_t ldc, float alpha,
                           float beta, ptrdiff_t mr, ptrdiff_t nr);

#if defined(__x86_64__) || defined(__i386__)
#define MLSEC_HAVE_X86 1
void mlsec_pack_a_avx2(int trans, ptrdiff_t mc, ptrdiff_t kc, const float *a, ptrdiff_t lda, float *dst);
void mlsec_pack_b_avx2(int trans, ptrdiff_t kc, ptrdiff_t nc, const float *b, ptrdiff_t ldb, float *dst);
void mlsec_kernel_avx2(ptrdiff_t kc, const float *a, const float *b, float *c, ptrdiff_t ldc, float alpha,
                       float beta, ptrdiff_t mr, ptrdiff_t nr);
#endif

#endif
