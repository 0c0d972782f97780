// CLZMA: exposes the system <lzma.h> to Swift.
#include <lzma.h>
