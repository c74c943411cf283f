/* file_guard.c -- one writer per file and disk space reserved ahead of its
 * writes (file_guard.h). */
#define _GNU_SOURCE /* fallocate, FALLOC_FL_KEEP_SIZE */
#include <config.h>

#include "core/core.h"
#include "file_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------- the writer's lock */

/* What a lock file says of its writer. */
typedef struct {
    long pid;
    char host[256];
    char since[32];
} lock_holder;

static void this_host(char *buf, size_t size)
{
    if (gethostname(buf, size) != 0) snprintf(buf, size, "?");
    buf[size - 1] = '\0';
}

/* Read the holder's line from fd: 1 when it names one, 0 when the file is
 * empty or unreadable. */
static int read_holder(int fd, lock_holder *h)
{
    char line[384];
    memset(h, 0, sizeof *h);
    ssize_t got = pread(fd, line, sizeof line - 1, 0);
    if (got <= 0) return 0;
    line[got] = '\0';
    return sscanf(line, "pid %ld host %255s since %31s", &h->pid, h->host, h->since) == 3 &&
           h->pid > 0;
}

/* A holder that surely no longer runs: this host, and no such pid. */
static int holder_is_dead(const lock_holder *h)
{
    char host[256];
    this_host(host, sizeof host);
    return strcmp(h->host, host) == 0 && kill((pid_t)h->pid, 0) != 0 && errno == ESRCH;
}

static myo_status refuse(const char *file, const char *lock_path, const lock_holder *h,
                         int flock_works)
{
    if (!h->pid)
        return myo_fail(MYO_ERR_IO,
                        "%s: another process holds its writer's lock %s: one results file per "
                        "run at a time",
                        file, lock_path);
    return myo_fail(MYO_ERR_IO,
                    "%s: another run is writing it (pid %ld on host %s since %s; lock %s): one "
                    "results file per run at a time%s",
                    file, h->pid, h->host, h->since, lock_path,
                    flock_works ? "" : "; remove the lock file if that run is gone");
}

/* The taker's line, written over whatever the file held. */
static int write_holder(int fd)
{
    char host[256], since[32], line[384];
    this_host(host, sizeof host);
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm) || !strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(since, sizeof since, "?");
    int len = snprintf(line, sizeof line, "pid %ld host %s since %s\n", (long)getpid(), host, since);
    if (ftruncate(fd, 0) != 0) return -1;
    return pwrite(fd, line, (size_t)len, 0) == len ? 0 : -1;
}

/* The temporary file a dead writer may have left while creating file. */
static void remove_dead_writers_temp(const char *file, long pid)
{
    size_t len = strlen(file) + 32;
    char *tmp = malloc(len);
    if (!tmp) return;
    snprintf(tmp, len, "%s.tmp-%ld", file, pid);
    unlink(tmp);
    free(tmp);
}

myo_status myo_writer_lock_take(const char *file, myo_writer_lock *lock)
{
    lock->fd = -1;
    lock->path = NULL;
    size_t len = strlen(file) + sizeof ".lock";
    char *path = myo_alloc(len, 1, "the lock file's name");
    if (!path) return MYO_ERR_NOMEM;
    snprintf(path, len, "%s.lock", file);
    myo_status st = MYO_OK;
    /* A few tries: the file may be removed by its holder between our open
     * and our flock (we would then hold a lock on a name nobody sees). */
    for (int attempt = 0; attempt < 4; attempt++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) {
            st = myo_fail(MYO_ERR_IO, "%s: cannot create its writer's lock %s: %s", file, path,
                          strerror(errno));
            break;
        }
        int flocked = flock(fd, LOCK_EX | LOCK_NB) == 0;
        int flock_errno = errno;
        lock_holder h;
        int named = read_holder(fd, &h);
        if (!flocked && (flock_errno == EWOULDBLOCK || flock_errno == EINTR)) {
            st = refuse(file, path, &h, 1);
            close(fd);
            break;
        }
        if (!flocked && named && !holder_is_dead(&h)) { /* no flock here: the line decides */
            st = refuse(file, path, &h, 0);
            close(fd);
            break;
        }
        struct stat by_fd, by_name;
        if (flocked && (fstat(fd, &by_fd) != 0 || stat(path, &by_name) != 0 ||
                        by_fd.st_ino != by_name.st_ino || by_fd.st_dev != by_name.st_dev)) {
            close(fd); /* the holder removed it meanwhile: again */
            st = myo_fail(MYO_ERR_IO, "%s: its writer's lock %s keeps changing", file, path);
            continue;
        }
        if (named) remove_dead_writers_temp(file, h.pid);
        if (write_holder(fd) != 0) {
            st = myo_fail(MYO_ERR_IO, "%s: cannot write its writer's lock %s: %s", file, path,
                          strerror(errno));
            close(fd);
            unlink(path);
            break;
        }
        lock->fd = fd;
        lock->path = path;
        return MYO_OK;
    }
    free(path);
    return st;
}

void myo_writer_lock_release(myo_writer_lock *lock)
{
    if (!lock) return;
    if (lock->fd >= 0) {
        if (lock->path) unlink(lock->path); /* still ours: removed before the flock goes */
        close(lock->fd);
    }
    free(lock->path);
    lock->path = NULL;
    lock->fd = -1;
}

/* ------------------------------------------------------ the disk reserve */

static myo_status disk_full(const char *path, uint64_t bytes, const char *why)
{
    return myo_fail(MYO_ERR_IO,
                    "%s: the disk is full (%s): cannot reserve %llu KiB for the next writes; "
                    "everything written before is kept",
                    path, why, (unsigned long long)(bytes >> 10));
}

myo_status myo_disk_reserve(int fd, const char *path, uint64_t bytes)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return myo_fail(MYO_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    const uint64_t end = (uint64_t)sb.st_size;
    struct rlimit rl;
    if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        end + bytes > (uint64_t)rl.rlim_cur)
        return disk_full(path, bytes, "the file-size limit, ulimit -f, is reached");
#ifdef FALLOC_FL_KEEP_SIZE
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)end, (off_t)bytes) == 0) return MYO_OK;
    if (errno != EOPNOTSUPP && errno != ENOSYS)
        return disk_full(path, bytes, errno == EDQUOT ? "quota exceeded" : strerror(errno));
#endif
    /* no fallocate on this file system: the free space must hold it */
    struct statvfs vfs;
    if (fstatvfs(fd, &vfs) != 0)
        return myo_fail(MYO_ERR_IO, "%s: cannot query the free space: %s", path, strerror(errno));
    if ((uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize < bytes)
        return disk_full(path, bytes, "no space left on the device");
    return MYO_OK;
}

void myo_disk_reserve_release(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
        (void)!truncate(path, sb.st_size); /* failing, the blocks only stay allocated */
}
