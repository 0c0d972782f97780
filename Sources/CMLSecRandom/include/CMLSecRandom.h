// CMLSecRandom: bulk random bytes from swift-crypto's own BoringSSL generator (RAND_bytes).
//
// RAND_bytes is BoringSSL's CSPRNG: a per-thread AES-256 CTR-DRBG seeded from the operating system (getrandom),
// reseeded every 4096 calls and after fork. Swift's SystemRandomNumberGenerator makes one getrandom system call
// per 64-bit draw (about 0.4-0.6 us here); DP-SGD needs millions of draws a second. No cryptography is
// implemented here.

#ifndef CMLSECRANDOM_H
#define CMLSECRANDOM_H

#include <stddef.h>
#include <stdint.h>

/// Fills buf with len bytes from BoringSSL's RAND_bytes; returns 1 (BoringSSL aborts rather than fail).
int mlsec_random_bytes(uint8_t *buf, size_t len);

#endif
