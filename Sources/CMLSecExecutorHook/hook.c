// See CMLSecExecutorHook.h.

#include "CMLSecExecutorHook.h"

// Defined by the Swift Concurrency runtime (libswift_Concurrency), linked statically or dynamically.
extern void *swift_task_enqueueGlobal_hook;

void **mlsec_enqueue_global_hook(void) {
    return &swift_task_enqueueGlobal_hook;
}
