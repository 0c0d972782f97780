// CMLSecAEAD: thin wrappers over swift-crypto's BoringSSL EVP_AEAD functions (see the header).

#include "CMLSecAEAD.h"

// The BoringSSL declarations, under swift-crypto's symbol prefix; the types stay opaque here.
typedef struct evp_aead_st EVP_AEAD;
typedef struct evp_aead_ctx_st EVP_AEAD_CTX;
extern const EVP_AEAD *CCryptoBoringSSL_EVP_aead_chacha20_poly1305(void);
extern EVP_AEAD_CTX *CCryptoBoringSSL_EVP_AEAD_CTX_new(const EVP_AEAD *aead, const uint8_t *key, size_t key_len,
                                                       size_t tag_len);
extern void CCryptoBoringSSL_EVP_AEAD_CTX_free(EVP_AEAD_CTX *ctx);
extern int CCryptoBoringSSL_EVP_AEAD_CTX_seal(const EVP_AEAD_CTX *ctx, uint8_t *out, size_t *out_len,
                                              size_t max_out_len, const uint8_t *nonce, size_t nonce_len,
                                              const uint8_t *in, size_t in_len, const uint8_t *ad, size_t ad_len);
extern int CCryptoBoringSSL_EVP_AEAD_CTX_open(const EVP_AEAD_CTX *ctx, uint8_t *out, size_t *out_len,
                                              size_t max_out_len, const uint8_t *nonce, size_t nonce_len,
                                              const uint8_t *in, size_t in_len, const uint8_t *ad, size_t ad_len);

mlsec_aead_ctx *mlsec_chacha20poly1305_new(const uint8_t *key, size_t key_len) {
    return (mlsec_aead_ctx *)CCryptoBoringSSL_EVP_AEAD_CTX_new(CCryptoBoringSSL_EVP_aead_chacha20_poly1305(), key,
                                                               key_len, 16);
}

void mlsec_aead_free(mlsec_aead_ctx *ctx) { CCryptoBoringSSL_EVP_AEAD_CTX_free((EVP_AEAD_CTX *)ctx); }

int mlsec_aead_seal(const mlsec_aead_ctx *ctx, uint8_t *out, size_t *out_len, size_t max_out_len,
                    const uint8_t *nonce, size_t nonce_len, const uint8_t *in, size_t in_len) {
    return CCryptoBoringSSL_EVP_AEAD_CTX_seal((const EVP_AEAD_CTX *)ctx, out, out_len, max_out_len, nonce, nonce_len,
                                              in, in_len, NULL, 0);
}

int mlsec_aead_open(const mlsec_aead_ctx *ctx, uint8_t *out, size_t *out_len, size_t max_out_len,
                    const uint8_t *nonce, size_t nonce_len, const uint8_t *in, size_t in_len) {
    return CCryptoBoringSSL_EVP_AEAD_CTX_open((const EVP_AEAD_CTX *)ctx, out, out_len, max_out_len, nonce, nonce_len,
                                              in, in_len, NULL, 0);
}
