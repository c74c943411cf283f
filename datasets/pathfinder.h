/*
 * pathfinder.h -- LRA's Pathfinder (32x32) and Path-X (128x128) tasks:
 * a seedable generator of "snake" images after drewlinsley/pathfinder
 * (snakes2.py; docs/lra.md section 5) and a loader of the
 * images as LRA distributes them (lra_release/pathfinderN/<difficulty>/
 * {imgs/<batch>/sample_<i>.png, metadata/<batch>.npy}).
 *
 * Both fill a myo_dataset with task "pathfinder" (size 32) or "pathx"
 * (size 128), docs 1, n = size^2, vocab 256, classes 2, tokens = the gray
 * levels 0..255 in raster (row-major) order, every length n, no parents.
 * Label 1: the two markers sit on the two ends of the same snake.
 *
 * Everything is deterministic from the seed (myo_rng, and no libm
 * transcendental function): the same seed gives the same bytes on every
 * machine.  Nothing prints or exits; failures return a myo_status whose
 * one-line detail ("file:line: what" for data errors) is
 * myo_data_error() (dataset_file.h; thread-local).
 */
#ifndef MYO_PATHFINDER_H
#define MYO_PATHFINDER_H

#include "myo_data.h"

#include <stdint.h>

/* The three LRA difficulties: contour length 6, 9, 14 paddles. */
typedef enum {
    MYO_PF_BASELINE = 0, /* curv_baseline, contour_length 6 */
    MYO_PF_CL9 = 1,      /* curv_contour_length_9 */
    MYO_PF_CL14 = 2      /* curv_contour_length_14 (the "hard" split S4 uses) */
} myo_pf_difficulty;

#define MYO_PF_MAX_MARGINS 4

/* Every parameter of the generator (recorded as dataset attributes).
 * Lengths are in pixels of the output image. */
typedef struct {
    int size;                  /* window: size x size pixels (8..1024) */
    int contour_length;        /* paddles per target snake (seed paddle included) */
    int distractor_length;     /* paddles per distractor snake */
    int num_distractor_snakes; /* distractor snakes attempted */
    int use_single_paddles;    /* add the one-paddle distractors of step 5 */
    int padding;               /* occupied border width */
    double paddle_length;      /* L */
    double paddle_thickness;   /* line width */
    int num_margins;           /* margin m drawn uniformly from margins[] */
    int margins[MYO_PF_MAX_MARGINS];
    double continuity;    /* turn penalty: weight cos(min(c * dtheta, pi/2))^2 */
    double seed_distance; /* distance between the two target tails */
    double marker_radius;
    double snake_contrast; /* intensity = paddle_contrast * snake_contrast */
    double paddle_contrast;
    int antialias_scale;                /* subsamples per pixel side */
    int max_paddle_retrial;             /* seed placement retries (2: up to 3 tries) */
    int max_segment_trial;              /* retries per growth step (2: up to 3 tries) */
    int max_distractor_contour_retrial; /* retries per distractor snake (4) */
} myo_pf_params;

/* LRA's parameter set for size 32 (Pathfinder) or 128 (Path-X) at a
 * difficulty.  MYO_ERR_ARG for another size or difficulty. */
myo_status myo_pf_params_lra(int size, myo_pf_difficulty difficulty, myo_pf_params *p);

/* "curv_baseline", "curv_contour_length_9", "curv_contour_length_14";
 * NULL for an invalid value. */
const char *myo_pf_difficulty_dir(myo_pf_difficulty difficulty);
/* Accepts the directory names above and "baseline"/"6", "9", "14"
 * (also "easy", "medium", "hard").  MYO_ERR_ARG otherwise. */
myo_status myo_pf_difficulty_parse(const char *name, myo_pf_difficulty *difficulty);

/* Where the markers of one generated image are (x = column, y = row, in
 * pixels; pixel (c, r) covers [c, c+1) x [r, r+1)), and which snakes
 * they sit on (ids of the snake map). */
typedef struct {
    double origin_x, origin_y;     /* the origin marker (a target tail) */
    double terminal_x, terminal_y; /* the terminal marker (a target head) */
    int origin_snake, terminal_snake;
    int margin;   /* the margin m drawn for this image */
    int nsnakes;  /* snakes drawn (ids 1..nsnakes; 1 and 2 are the targets) */
    int attempts; /* target pairs generated until one fitted */
} myo_pf_info;

/* Snake ids of the map: 1 and 2 the target snakes, 3.. the distractor
 * snakes, MYO_PF_SINGLE_ID every single-paddle distractor. */
#define MYO_PF_SINGLE_ID 255

/* One image.  img (size*size) receives the gray levels in raster order;
 * snake_id (size*size, may be NULL) the id of the snake that drew each
 * pixel (0: background or marker only): a pixel belongs to a paddle when
 * the paddle's axis crosses it or its antialiased line covers part of it;
 * no pixel belongs to two snakes.  *label 0 or 1; info may be NULL.  rng
 * advances.
 * MYO_ERR_ARG on invalid parameters, MYO_ERR_NOMEM, MYO_ERR_DATA when no
 * target pair fits after many attempts (parameters too large for the
 * window). */
myo_status myo_pf_generate_image(const myo_pf_params *p, myo_rng *rng, uint8_t *img,
                                 uint8_t *snake_id, int *label, myo_pf_info *info);

/* Most threads myo_pf_generate_threads takes. */
#define MYO_PF_MAX_THREADS 1024

/* count images from seed into d (allocated here; free with
 * myo_dataset_free), drawn by threads POSIX threads (1 to
 * MYO_PF_MAX_THREADS; the calling thread is one of them; never more than
 * count).  source "generated"; the attributes record every parameter,
 * the seed and the difficulty (not the thread count).  Image e uses its
 * own stream seeded from (seed, e) and is written at index e, so a
 * dataset's first k images do not depend on count, and the dataset's
 * bytes do not depend on threads.  Splits as LRA's 80 / 10 / 10:
 * validation and test round(count / 10) images each, after the training
 * ones.  MYO_ERR_ARG on bad parameters or thread count, MYO_ERR_NOMEM,
 * MYO_ERR_DATA (parameters too large for the window: the detail of the
 * earliest failing image). */
myo_status myo_pf_generate_threads(const myo_pf_params *p, int64_t count, uint64_t seed,
                                   int threads, myo_dataset *d);
/* myo_pf_generate_threads on one thread (the calling one). */
myo_status myo_pf_generate(const myo_pf_params *p, int64_t count, uint64_t seed, myo_dataset *d);

/* Load LRA's files: root is a pathfinderN directory (containing the
 * difficulty directories), difficulty one of the names
 * myo_pf_difficulty_parse() accepts.  Reads every metadata/<batch>.npy
 * (whitespace-separated text rows: imgs/<batch> sample_<i>.png index label
 * [more fields]) in numeric batch order, rows in file order, and the PNG
 * each row names (8-bit grayscale, square; every image of one dataset the
 * same size); max_count > 0 stops after that many rows (0: all).
 * task "pathfinder" for size 32, "pathx" for 128 ("pathfinder" for other
 * sizes, with the size as attribute), source "loaded"; splits 80 / 10 / 10
 * in file order (as the generator's).  MYO_ERR_IO when a
 * directory cannot be read; MYO_ERR_DATA naming file and line for a row of
 * fewer than 4 fields, a label other than 0/1, a bad file name or a
 * missing or unreadable PNG, and for an empty data set. */
myo_status myo_pf_load(const char *root, const char *difficulty, int64_t max_count, myo_dataset *d);

/* Parse one metadata row (a NUL-terminated line, without or with its
 * newline) into its directory field (imgs/<batch>), file name and label.
 * Exposed for tests and fuzzing.  MYO_ERR_DATA naming where:line. */
myo_status myo_pf_parse_metadata_row(const char *line, const char *where, long lineno, char *dir,
                                     size_t dir_size, char *file, size_t file_size, int *label);

#endif
