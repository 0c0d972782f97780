// ExecutorTakeover: `mlsec serve` hands Swift Concurrency's global executor to NIO's event loops, so request
// handlers run on the thread that owns the connection instead of hopping to Dispatch's pool and back.

import CMLSecExecutorHook
import NIOCore
import NIOPosix

enum ExecutorTakeover {
    /// The runtime's hook: called with each job the global executor is given, and the default enqueue function.
    private typealias EnqueueHook = @convention(thin) (UnownedJob, @convention(thin) (UnownedJob) -> Void) -> Void

    /// Installs NIO's singleton event loop group as the global executor; false when it could not be installed.
    ///
    /// NIO's own installer finds the runtime's hook with dlsym, which cannot see it in an executable that links the
    /// Swift runtime statically (the symbol is hidden there, for start-up time). Then the hook's address comes from
    /// the link itself (CMLSecExecutorHook), and the same hook is installed: each job goes to an event loop of the
    /// singleton group, the current one when called from one (`any()` is sticky).
    static func install() -> Bool {
        if NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() { return true }
        let slot = mlsec_enqueue_global_hook()
        guard let slot, slot.pointee == nil else { return false }   // someone else installed a hook: leave it
        let hook: EnqueueHook = { job, _ in
            MultiThreadedEventLoopGroup.singleton.any().executor.enqueue(job)
        }
        // Called once from the main thread before any task starts: a plain store is enough.
        slot.pointee = unsafeBitCast(hook, to: UnsafeMutableRawPointer.self)
        return true
    }
}
