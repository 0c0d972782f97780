// CMLSecRandom: a wrapper over swift-crypto's BoringSSL RAND_bytes (see the header).

#include "CMLSecRandom.h"

// The BoringSSL declaration, under swift-crypto's symbol prefix.
extern int CCryptoBoringSSL_RAND_bytes(uint8_t *buf, size_t len);

int mlsec_random_bytes(uint8_t *buf, size_t len) { return CCryptoBoringSSL_RAND_bytes(buf, len); }
