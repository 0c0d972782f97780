// CMLSecAEAD: in-place ChaCha20-Poly1305 through swift-crypto's own BoringSSL (its EVP_AEAD C API).
//
// swift-crypto links BoringSSL with every symbol prefixed "CCryptoBoringSSL_"; its Swift API allocates and
// copies each message several times, which doubles the cost of 64 KiB age chunks. These wrappers call the
// same BoringSSL functions on caller-owned buffers. No cryptography is implemented here.

#ifndef CMLSECAEAD_H
#define CMLSECAEAD_H

#include <stddef.h>
#include <stdint.h>

/// An opaque ChaCha20-Poly1305 key schedule (a BoringSSL EVP_AEAD_CTX).
typedef struct mlsec_aead_ctx mlsec_aead_ctx;

/// Creates a context for a 32-byte key and 16-byte tags; NULL on failure.
mlsec_aead_ctx *mlsec_chacha20poly1305_new(const uint8_t *key, size_t key_len);

/// Frees a context (BoringSSL wipes the key schedule).
void mlsec_aead_free(mlsec_aead_ctx *ctx);

/// Seals in_len bytes into out (which may equal in) followed by the 16-byte tag; returns 1 on success.
int mlsec_aead_seal(const mlsec_aead_ctx *ctx, uint8_t *out, size_t *out_len, size_t max_out_len,
                    const uint8_t *nonce, size_t nonce_len, const uint8_t *in, size_t in_len);

/// Opens in_len bytes (ciphertext and tag) into out (which may equal in); returns 1 only if the tag verifies.
int mlsec_aead_open(const mlsec_aead_ctx *ctx, uint8_t *out, size_t *out_len, size_t max_out_len,
                    const uint8_t *nonce, size_t nonce_len, const uint8_t *in, size_t in_len);

#endif
