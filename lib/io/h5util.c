/* h5util.c -- what the library's HDF5 modules share (h5util.h). */
#include <config.h>

#include "core/core.h"
#include "h5util.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

myo_h5_quiet myo_h5_quiet_begin(void)
{
    myo_h5_quiet q = {NULL, NULL};
    H5Eget_auto2(H5E_DEFAULT, &q.func, &q.data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return q;
}

void myo_h5_quiet_end(myo_h5_quiet q)
{
    H5Eset_auto2(H5E_DEFAULT, q.func, q.data);
}

myo_status myo_h5_input_file(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || access(path, R_OK) != 0)
        return myo_fail(MYO_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return myo_fail(MYO_ERR_IO, "%s: not a regular file (%s)", path,
                        S_ISDIR(sb.st_mode) ? "a directory" : "a FIFO, socket or device");
    return MYO_OK;
}
