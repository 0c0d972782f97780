// CMLSecSys: the few Linux system calls the Swift Glibc module does not export.

#ifndef CMLSECSYS_H
#define CMLSECSYS_H

#include <stdint.h>

/// Starts writeback of the dirty pages of [offset, offset + length) of `fd` without waiting (Linux
/// sync_file_range with SYNC_FILE_RANGE_WRITE); 0 on success, -1 with errno set, or 0 where unsupported.
int mlsec_start_writeback(int fd, int64_t offset, int64_t length);

/// Waits until the writeback of [offset, offset + length) of `fd` is done (starting it first if needed);
/// this does not flush metadata or the disk cache: an fsync/fdatasync still makes the file durable.
int mlsec_wait_writeback(int fd, int64_t offset, int64_t length);

#endif
