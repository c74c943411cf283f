/* status.c -- status codes and the per-thread detail message of the last failure. */
#include <config.h>

#include "core.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static _Thread_local char last_detail[512];

const char *myo_status_str(myo_status s)
{
    switch (s) {
    case MYO_OK:
        return "MYO_OK";
    case MYO_ERR_ARG:
        return "MYO_ERR_ARG";
    case MYO_ERR_NOMEM:
        return "MYO_ERR_NOMEM";
    case MYO_ERR_IO:
        return "MYO_ERR_IO";
    case MYO_ERR_HDF5:
        return "MYO_ERR_HDF5";
    case MYO_ERR_MPI:
        return "MYO_ERR_MPI";
    case MYO_ERR_SINGULAR:
        return "MYO_ERR_SINGULAR";
    case MYO_ERR_DATA:
        return "MYO_ERR_DATA";
    }
    return "MYO_ERR_UNKNOWN";
}

const char *myo_error_detail(void)
{
    return last_detail;
}

const char *myo_version(void)
{
    return PACKAGE_VERSION;
}

myo_status myo_fail(myo_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_detail, sizeof last_detail, fmt, ap);
    va_end(ap);
    return s;
}

void *myo_alloc(size_t count, size_t size, const char *what)
{
    if (count == 0) count = 1;
    if (size != 0 && count > SIZE_MAX / size) {
        myo_fail(MYO_ERR_NOMEM, "%s: %zu x %zu bytes overflows size_t", what, count, size);
        return NULL;
    }
    void *p = malloc(count * size);
    if (!p) myo_fail(MYO_ERR_NOMEM, "%s: cannot allocate %zu bytes", what, count * size);
    return p;
}
