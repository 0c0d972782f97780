// CMLSecExecutorHook: the address of the Swift runtime's global-executor hook, resolved when mlsec is linked.
//
// NIO hands Swift Concurrency to its event loops by finding `swift_task_enqueueGlobal_hook` with dlsym. With the
// Swift runtime linked statically (for start-up time) the symbol is hidden and dlsym cannot see it, but code
// linked into the same executable can still name it: this returns its address for `mlsec serve`.

#ifndef CMLSECEXECUTORHOOK_H
#define CMLSECEXECUTORHOOK_H

/// The address of the runtime's `swift_task_enqueueGlobal_hook` variable (a function pointer, null by default).
void **mlsec_enqueue_global_hook(void);

#endif
