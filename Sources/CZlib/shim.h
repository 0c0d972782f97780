// CZlib: exposes the system <zlib.h> to Swift.
#include <zlib.h>
