/* file_guard.h -- what keeps a file whole while one process writes to it
 * piece by piece (h5log.c's results files): a lock file that admits one
 * writer, and disk space reserved beyond the file's end before each write.
 *
 * The writer's lock is the file PATH.lock beside PATH, holding one line
 * "pid P host H since YYYY-MM-DDTHH:MM:SSZ" and locked with flock(2) for as
 * long as the writer runs:
 *   - another process that holds it (flock says so) -> MYO_ERR_IO naming
 *     its pid, host and start;
 *   - a lock file left by a writer that died (kill -9, a node that went
 *     down) is free to flock, so the next writer takes it over at once;
 *   - where flock(2) does not work (some NFS mounts), the line decides: a
 *     lock naming this host and a pid that no longer runs is stale and
 *     taken over; any other is refused, and the message says to remove
 *     the file when that run is gone.
 * The taker also removes PATH.tmp-P, the temporary file a dead writer P
 * may have left while creating PATH (h5log.c creates files that way).
 *
 * The disk reserve keeps `bytes` allocated beyond the file's end
 * (fallocate with FALLOC_FL_KEEP_SIZE: the file's size does not change),
 * so that the next writes land on blocks that are already the file's: a
 * disk or quota that fills up is seen before HDF5 writes anything, not in
 * the middle of a flush (after which HDF5 before 1.14.1 cannot close the
 * file and crashes at exit).  A file-size limit (ulimit -f) that the
 * reserve would cross counts as full.  File systems without fallocate:
 * the free space (statvfs) must hold the reserve instead.
 *
 * Local; nothing here prints or exits. */
#ifndef MYO_FILE_GUARD_H
#define MYO_FILE_GUARD_H

#include "myosotis.h"

#include <stdint.h>

typedef struct {
    char *path; /* PATH.lock */
    int fd;     /* -1 when not held */
} myo_writer_lock;

/* Take the writer's lock of file (see above): MYO_OK with *lock held, or
 * MYO_ERR_IO (another writer, or the lock file cannot be made),
 * MYO_ERR_NOMEM; *lock is then empty (fd -1).  file_guard.h's rules. */
myo_status myo_writer_lock_take(const char *file, myo_writer_lock *lock);

/* Remove the lock file and release it; NULL-safe, idempotent. */
void myo_writer_lock_release(myo_writer_lock *lock);

/* Keep bytes of disk allocated beyond the end of the file open as fd
 * (path names it in the message): MYO_OK, or MYO_ERR_IO "path: the disk
 * is full ..." (no space, quota, or the file-size limit). */
myo_status myo_disk_reserve(int fd, const char *path, uint64_t bytes);

/* Give back what myo_disk_reserve kept beyond the end of path (truncate
 * to its own size); errors are ignored (the space is only borrowed). */
void myo_disk_reserve_release(const char *path);

#endif
