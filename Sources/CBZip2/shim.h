// CBZip2: exposes the system <bzlib.h> to Swift.
#include <bzlib.h>
