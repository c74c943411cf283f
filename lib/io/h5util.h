/* h5util.h -- what the library's HDF5 modules (system_io.c, h5log.c)
 * share: HDF5's automatic error printing switched off around a call, the
 * caller's handler restored after it (not installed). */
#ifndef MYO_H5UTIL_H
#define MYO_H5UTIL_H

#include "myosotis.h"

#include <hdf5.h>

/* The caller's error-stack handler, kept while HDF5 is silenced. */
typedef struct {
    H5E_auto2_t func;
    void *data;
} myo_h5_quiet;

/* Silence HDF5's error stack printing; returns the handler to restore. */
myo_h5_quiet myo_h5_quiet_begin(void);
/* Restore the handler myo_h5_quiet_begin returned. */
void myo_h5_quiet_end(myo_h5_quiet q);

/* An input file HDF5 may open: readable and a regular file (opening a
 * FIFO would wait forever for a writer; a directory or device is no HDF5
 * file either).  MYO_OK, or MYO_ERR_IO naming path and the reason. */
myo_status myo_h5_input_file(const char *path);

#endif
