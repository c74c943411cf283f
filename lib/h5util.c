/* h5util.c -- what the library's HDF5 modules share (h5util.h). */
#include <config.h>

#include "h5util.h"

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
