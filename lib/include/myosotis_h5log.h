/*
 * myosotis_h5log.h -- measurement logs in HDF5:
 * appendable tables of rows, one attribute group per run, crash-safe
 * appends.  Serial HDF5: one process (rank 0 of a driver) owns a log.
 *
 * File layout (one file holds any number of runs):
 *     /<table>            1-D compound dataset per table, unlimited and
 *                         chunked, one row per record; every table has an
 *                         int64 column "run_id" (the caller fills it from
 *                         myo_h5log_run_id)
 *     /runs/run-000001    an empty group per run whose string attributes
 *                         hold the run's metadata (myo_h5log_set_meta)
 *     /                   attributes "schema" (the caller's schema name)
 *                         and "schema_version" (int, the version of this
 *                         layout: 1)
 * Strings are fixed-length, NUL-padded (h5py returns them as bytes).
 * Every append ends with H5Fflush(H5F_SCOPE_GLOBAL), in the default
 * (earliest) file format: a process killed with SIGKILL between appends
 * leaves a file that h5dump and h5py open with every appended row.
 *
 * One writer at a time: an open log holds PATH.lock beside the file (a
 * lock file locked with flock(2), naming the writer's pid and host;
 * removed at close; a dead writer's lock is taken over).  Before every
 * write at least 1 MiB (four chunks of every table, if more) is kept
 * allocated beyond the file's end, so that a full disk, quota or
 * file-size limit fails the call before HDF5 writes anything and the file
 * keeps every row flushed before.
 *
 * The library never prints or exits; every call returns a myo_status
 * with a one-line detail naming the file (myo_error_detail()).
 */
#ifndef MYOSOTIS_H5LOG_H
#define MYOSOTIS_H5LOG_H

#include "myosotis.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { MYO_H5COL_INT64 = 0, MYO_H5COL_DOUBLE = 1, MYO_H5COL_STRING = 2 } myo_h5col_type;

/* One column: a member of the caller's row struct. */
typedef struct {
    const char *name;    /* the compound member's name */
    myo_h5col_type type; /* int64_t, double or a char array */
    size_t offset;       /* offsetof(row struct, member) */
    size_t size;         /* MYO_H5COL_STRING: bytes of the char array (>= 2);
                          * ignored for the others */
} myo_h5col;

/* One table: its dataset name (a plain name at the root, e.g. "points";
 * no '/', not "runs") and the columns of its row struct, in the order of
 * the file's compound members; one column must be the int64 "run_id". */
typedef struct {
    const char *name;
    const myo_h5col *cols;
    int ncols;
    size_t row_size; /* sizeof(row struct) */
} myo_h5table;

typedef struct myo_h5log myo_h5log;

/* Check a schema without touching any file: MYO_ERR_ARG naming the problem
 * (no tables, a NULL, empty, reserved or duplicate name, an unknown type, a
 * column outside row_size, a string of size < 2, no int64 "run_id").
 * Local. */
myo_status myo_h5log_check_schema(const myo_h5table *tables, int ntables);

/* Open path for a new run, creating the file when it does not exist (built
 * in memory and written under path.tmp-PID, then renamed: complete or
 * absent).
 * schema names the layout (e.g. "myo-bench/1"); an existing file must
 * carry the same schema name and, for every table, a dataset with exactly
 * these members (names, classes and sizes, in order): otherwise
 * MYO_ERR_DATA "incompatible schema", naming the first difference (other
 * datasets in the file are ignored, so a driver may log a subset of its
 * tables).  A path
 * that exists but is not an HDF5 file, or cannot be opened for writing,
 * gives MYO_ERR_IO (or MYO_ERR_HDF5) naming it.  All checks run on a
 * read-only open before the file is reopened for writing, so a failed
 * open never modifies an existing file; a new file is created only after
 * the schema checks pass.  Another process writing path (its lock held),
 * or a disk without room for the reserve: MYO_ERR_IO, nothing written.
 * The new run's id is 1 + the largest id under
 * /runs (1 in a new file); its group and the attribute "utc_start" are
 * written and flushed before returning.  Local. */
myo_status myo_h5log_open(const char *path, const char *schema, const myo_h5table *tables,
                          int ntables, myo_h5log **out);

/* Local.  The id of the log's run. */
int64_t myo_h5log_run_id(const myo_h5log *log);

/* Local.  A string attribute key = value on the run's group (replaced
 * when it exists), flushed. */
myo_status myo_h5log_set_meta(myo_h5log *log, const char *key, const char *value);

/* Local.  Append count >= 1 rows of table number `table` (its index in
 * the tables given to open) from rows (count row structs), then flush.
 * A disk without room for the reserve: MYO_ERR_IO "the disk is full",
 * nothing written (close still records utc_end); after a write that
 * failed in HDF5 every later append and set_meta fails too.
 * Strings longer than their column (no NUL within the char array) and a
 * run_id other than myo_h5log_run_id are errors (MYO_ERR_ARG, nothing
 * written), never silently cut or fixed.  The bytes after a string's NUL
 * are stored as zeros, whatever the struct held there. */
myo_status myo_h5log_append(myo_h5log *log, int table, const void *rows, int64_t count);

/* Local.  Rows of a table so far (all runs, this run's appends included). */
int64_t myo_h5log_rows(const myo_h5log *log, int table);

/* Local.  Read the string column `column` of every row of the table (all
 * runs): *values (malloc'ed, count * width bytes, each NUL-terminated
 * within width; width is the column's size + 1; NULL when count is 0) --
 * free() it.  For --resume: the caller skips points whose
 * key is already recorded.  MYO_ERR_ARG for an unknown or non-string
 * column. */
myo_status myo_h5log_read_strings(const myo_h5log *log, int table, const char *column,
                                  char **values, size_t *width, int64_t *count);

/* Local.  Writes the attribute "utc_end", flushes and closes; NULL-safe;
 * sets *log = NULL.  Returns the first error of the flush or close. */
myo_status myo_h5log_close(myo_h5log **log);

/* Local.  The current UTC time as "YYYY-MM-DDTHH:MM:SSZ" into buf (>= 21
 * bytes). */
void myo_h5log_utc_now(char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* MYOSOTIS_H5LOG_H */
