/*
 * png_io.h -- 8-bit grayscale PNG files (libpng), for the Pathfinder
 * loader and for exporting generated samples.
 *
 * Reading accepts only PNGs whose colour type is gray (no alpha) and bit
 * depth 8 -- what LRA's Pathfinder images are; any other format is
 * MYO_ERR_DATA (no conversion).  libpng's errors (truncated or corrupt
 * files, bad CRCs) are caught with setjmp and returned as MYO_ERR_DATA
 * "file: what".  Nothing prints or exits; the detail of the last failure
 * is myo_data_error() (dataset_file.h; thread-local).
 */
#ifndef MYO_PNG_IO_H
#define MYO_PNG_IO_H

#include "myosotis.h"

#include <stdint.h>

/* Largest width or height accepted when reading. */
#define MYO_PNG_MAX_SIDE 16384

/* Read path into *pixels (malloc'ed, width*height bytes in raster order;
 * free() it), *width, *height.  MYO_ERR_IO when the file cannot be
 * opened, MYO_ERR_DATA for a non-PNG, another format or a corrupt file,
 * MYO_ERR_NOMEM. */
myo_status myo_png_read_gray8(const char *path, uint8_t **pixels, int *width, int *height);

/* Write width*height gray levels (raster order) to path as an 8-bit
 * grayscale PNG.  MYO_ERR_ARG, MYO_ERR_IO. */
myo_status myo_png_write_gray8(const char *path, const uint8_t *pixels, int width, int height);

#endif
