/*
 * train_checkpoint.h -- myo-train's checkpoints: one HDF5 file holding
 * everything that decides the rest of a training, written atomically.
 *
 * File layout (format "myo-train-checkpoint/1"; P parameters):
 *     /params        float32 (P,)  the parameters after `step` updates
 *     /moment1       float32 (P,)  AdamW's first moment
 *     /moment2       float32 (P,)  AdamW's second moment
 *     /best_params   float32 (P,)  the parameters of the best validation
 *                                  accuracy so far (at best_step)
 *     /              attributes: format, train_id, key (strings); step,
 *                    adam_steps, best_step, seed (int64); wall_s,
 *                    best_accuracy, best_loss (double); checksum (uint64:
 *                    FNV-1a over the four arrays and the numbers above)
 * The data position is the step (the epoch's order is a function of the
 * seed and the epoch, myo_train.c), and there is no random state besides
 * the seed (dropout masks are a function of the seed and the step), so
 * params, moments, adam_steps and step restore a training bit for bit.
 * key describes the training (task, data, model, mixer, tree, ordering,
 * recipe, seed, ranks): a checkpoint of another key is refused.
 *
 * Writing goes to PATH.tmp-PID, is flushed to disk (fsync) and renamed
 * onto PATH: PATH is always a complete checkpoint, the previous one until
 * the rename.  Reading checks the HDF5 structures before libhdf5 decodes
 * them (h5_header_check.h), every shape, and the checksum: a truncated or
 * altered file is refused.
 *
 * Failures return MYO_ERR_IO (cannot be read or written, not HDF5,
 * truncated), MYO_ERR_DATA (another format, another training, a wrong
 * shape or checksum), MYO_ERR_HDF5 or MYO_ERR_NOMEM, with a one-line
 * detail in err.  Nothing prints or exits.
 */
#ifndef MYO_TRAIN_CHECKPOINT_H
#define MYO_TRAIN_CHECKPOINT_H

#include "myosotis.h"

#include <stddef.h>
#include <stdint.h>

#define TRAIN_CHECKPOINT_FORMAT "myo-train-checkpoint/1"

typedef struct {
    char train_id[96];
    char key[512];
    int64_t step, adam_steps, best_step, seed;
    double wall_s, best_accuracy, best_loss;
    int64_t num_params;
    float *params, *moment1, *moment2, *best_params; /* (num_params,) each */
} train_checkpoint;

/* Write c to path atomically (above).  err: a buffer for the detail. */
myo_status train_checkpoint_write(const char *path, const train_checkpoint *c, char *err,
                                  size_t errsize);

/* Read path into c, whose key, train_id and num_params say what is
 * expected and whose four arrays (num_params floats each) receive the
 * file's; on success the numbers are the file's.  A file of another key
 * is refused naming the first field that differs ("d_model=64 there,
 * d_model=32 here"). */
myo_status train_checkpoint_read(const char *path, train_checkpoint *c, char *err, size_t errsize);

#endif
