/*
 * images.h -- LRA's Image task (sequential grayscale CIFAR-10): the CIFAR-10
 * binary loader and seeded synthetic images; and the Fashion-MNIST loader
 * (the same shape: 32 x 32 gray levels, 10 classes).
 *
 * Datasets made here: task "image", docs 1, n = side * side (1024 for
 * CIFAR-10), vocab 256 (token = gray level 0..255; a gray level of 0 is a
 * black pixel, not padding: images have no padding, lengths = n), classes
 * 10, parents NULL, tokens in raster (row-major) order as LRA flattens them
 * (orderings.h reorders them).
 *
 * Grayscale as LRA (tf.image.rgb_to_grayscale on uint8 images), reproduced
 * in float32:  f_c = c * (1/255);  y = 0.2989 f_r + 0.5870 f_g + 0.1140 f_b;
 * gray = (uint8) clamp(y * 255.5, 0, 255) -- truncation towards zero, as
 * TF's convert_image_dtype (float -> uint8 scales by max + 0.5 then casts).
 * So gray ~ floor(Y * 255.5 / 255) with Y = 0.2989 R + 0.5870 G + 0.1140 B:
 * (255,255,255) -> 255, (0,255,0) -> 149 (not 150), (255,0,0) -> 76.
 *
 * Failures return a myo_status; myo_data_error() (dataset_file.h)
 * then gives a one-line detail naming the file and record.  Nothing prints or exits.
 */
#ifndef MYO_IMAGES_H
#define MYO_IMAGES_H

#include "myo_data.h"

#include <stdint.h>

#define MYO_CIFAR_SIDE 32
#define MYO_CIFAR_PIXELS 1024 /* 32 * 32 */
#define MYO_CIFAR_RECORD 3073 /* 1 label byte + 3 * 1024 bytes (R, G, B planes) */
#define MYO_CIFAR_CLASSES 10

/* LRA's gray level of one RGB pixel (rule above). */
uint8_t myo_gray_from_rgb(uint8_t r, uint8_t g, uint8_t b);

/* Load CIFAR-10 binary files in the order given (records of 1 label byte +
 * 3072 bytes: the R plane, then G, then B, each 32x32 row-major), all
 * records of all files, converted to gray, into *d (which the call
 * allocates; free with myo_dataset_free).  MYO_ERR_IO when a file cannot be
 * opened or read; MYO_ERR_DATA naming the file and record when a file's
 * size is not a multiple of 3073 (or is 0) or a label byte is > 9;
 * MYO_ERR_ARG on bad arguments.  Records attributes "files" (basenames,
 * comma-separated) and "grayscale". */
myo_status myo_cifar10_load_files(const char *const *paths, int npaths, myo_dataset *d);

/* Load from the directory of cifar-10-batches-bin: split "train" reads
 * data_batch_1.bin .. data_batch_5.bin (50,000 images), "test" reads
 * test_batch.bin (10,000), both without splits (has_splits 0); "all"
 * reads the six, in that order, with LRA's splits: train[:90%] training,
 * train[90%:] validation (round(T / 10) of the T training images), test
 * (45,000 / 5,000 / 10,000).  Attribute "split" = split.  Errors as
 * above; MYO_ERR_ARG for another split. */
myo_status myo_cifar10_load(const char *dir, const char *split, myo_dataset *d);

#define MYO_FMNIST_SIDE 28                                 /* Fashion-MNIST images: 28 x 28 */
#define MYO_FMNIST_GRID 32                                 /* placed in the centre of 32 x 32 */
#define MYO_FMNIST_CLASSES 10                              /* labels 0..9 */
#define MYO_FMNIST_DIR "/usr/share/datasets/fashion-mnist" /* Debian's dataset-fashion-mnist */

/* Load Fashion-MNIST from dir (NULL: MYO_FMNIST_DIR): the IDX files
 * (idx.h) train-images-idx3-ubyte, train-labels-idx1-ubyte,
 * t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each NAME.gz when it
 * exists, else NAME (plain or gzip-compressed either way).  Task
 * "fashion-mnist", source "loaded", docs 1, n 1024: each 28 x 28 image in
 * the centre of a 32 x 32 grid (pixel (r, c) at (r + 2, c + 2), the
 * border 0), raster order, vocab 256 (gray levels), classes 10, lengths
 * 1024.  The training images then the test images; splits: the first
 * T - round(T / 10) of the T training images train, the last round(T / 10)
 * validation, the test images test (54,000 / 6,000 / 10,000).  Attributes
 * "dir", "files" (the four names read), "placement", "ordering" = raster.
 * MYO_ERR_IO when a file cannot be read; MYO_ERR_DATA naming the file for
 * invalid contents (idx.h: magic number, type, sizes, truncation, trailing
 * bytes, images other than 28 x 28, unequal image and label counts,
 * labels above 9); MYO_ERR_NOMEM. */
myo_status myo_fashion_mnist_load(const char *dir, myo_dataset *d);

/* count seeded synthetic gray images of side x side (task "image", source
 * "synthetic", vocab 256, classes 10): labels drawn uniformly by the seed;
 * each image is a smooth pattern (a blob whose position depends on the
 * label) plus seeded noise, so a model can learn something.  The same seed
 * gives the same dataset.  MYO_ERR_ARG when count < 1 or side < 1. */
myo_status myo_images_synthetic(int64_t count, int side, uint64_t seed, myo_dataset *d);

/* Write count seeded random CIFAR-10 records (labels in 0..9, random RGB
 * planes) to path, e.g. for tests and smoke runs.  MYO_ERR_IO, MYO_ERR_ARG. */
myo_status myo_cifar10_write_synthetic(const char *path, int64_t count, uint64_t seed);

#endif
