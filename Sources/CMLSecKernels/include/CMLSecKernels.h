// CMLSecKernels: C compute kernels (single-precision GEMM) behind MLSecEngine's Swift wrappers.

#ifndef CMLSECKERNELS_H
#define CMLSECKERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Computes C = alpha * op(A) * op(B) + beta * C on one thread, for row-major single-precision matrices.
///
/// op(A) is m x k and op(B) is k x n. With trans_a == 0, A is stored m x k with row stride lda (>= k);
/// otherwise A is stored k x m with row stride lda (>= m) and op(A) = A^T. B likewise: k x n with stride
/// ldb (>= n), or n x k with stride ldb (>= k) when trans_b != 0. C is m x n with row stride ldc (>= n).
/// When beta == 0, C is only written, never read, so NaN or garbage in C is ignored. When k == 0 or
/// alpha == 0, C becomes beta * C. Nothing happens when m <= 0 or n <= 0.
/// A caller may compute a block of a larger product by offsetting the pointers (rows of op(A) and
/// columns of op(B)) and passing the block's m and n: the results are bitwise identical to the whole
/// product's, because each element is summed in an order that depends on k alone.
/// Packing buffers are allocated per call and freed before returning; the function has no shared
/// mutable state, so concurrent calls on disjoint blocks of C are safe.
/// force_portable != 0 selects the portable kernel even where the AVX2+FMA kernel could run.
void mlsec_sgemm(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                 const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta, float *c,
                 ptrdiff_t ldc, int force_portable);

/// Floats of buffer mlsec_sgemm_pack_b needs for an op(B) of k x n (0 when n or k is not positive).
ptrdiff_t mlsec_sgemm_packed_b_count(ptrdiff_t n, ptrdiff_t k);

/// Packs all of op(B) (k x n; trans_b and ldb as for mlsec_sgemm) into `packed`, which must be 32-byte
/// aligned and hold mlsec_sgemm_packed_b_count(n, k) floats. Threads computing different rows of one
/// product can then share the packed B through mlsec_sgemm_packed instead of each packing it again.
void mlsec_sgemm_pack_b(int trans_b, ptrdiff_t n, ptrdiff_t k, const float *b, ptrdiff_t ldb, float *packed,
                        int force_portable);

/// mlsec_sgemm with op(B) already packed by mlsec_sgemm_pack_b with the same n, k and force_portable.
/// `a` and `c` may be offset to compute a band of rows (any starting row); the results are bitwise
/// identical to mlsec_sgemm's. Only the packing buffer of A is allocated (per call, freed before return).
void mlsec_sgemm_packed(int trans_a, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha, const float *a,
                        ptrdiff_t lda, const float *packed_b, float beta, float *c, ptrdiff_t ldc,
                        int force_portable);

/// The kernel mlsec_sgemm runs on this CPU: "avx2+fma" or "portable" (always "portable" when
/// force_portable != 0). The string is static; do not free it.
const char *mlsec_sgemm_kernel_name(int force_portable);

/// Rows of C one micro-kernel call computes (the register tile's height); blocks that start on multiples
/// of it and of mlsec_sgemm_tile_cols() waste no partial tiles inside the product.
ptrdiff_t mlsec_sgemm_tile_rows(void);

/// Columns of C one micro-kernel call computes (the register tile's width).
ptrdiff_t mlsec_sgemm_tile_cols(void);

#ifdef __cplusplus
}
#endif

#endif
