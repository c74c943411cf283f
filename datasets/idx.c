/* idx.c -- IDX files (idx.h): the parser, image sets, and reading a file
 * plain or gzip-compressed with zlib. */
#define _POSIX_C_SOURCE 200809L
#include <config.h>

#include "idx.h"
#include "dataset_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const char *type_name(int type)
{
    switch (type) {
    case 0x08:
        return "unsigned byte";
    case 0x09:
        return "signed byte";
    case 0x0B:
        return "int16";
    case 0x0C:
        return "int32";
    case 0x0D:
        return "float32";
    case 0x0E:
        return "float64";
    default:
        return "no IDX type";
    }
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The sizes "a x b x c" of the ndims dims into text. */
static void sizes_text(const int64_t *dims, int ndims, char *text, size_t size)
{
    text[0] = '\0';
    for (int k = 0; k < ndims; k++)
        snprintf(text + strlen(text), size - strlen(text), "%s%lld", k ? " x " : "",
                 (long long)dims[k]);
}

myo_status myo_idx_parse(const uint8_t *buf, size_t len, const char *name, int ndims, myo_idx *out)
{
    if (!out || (!buf && len) || ndims < 1 || ndims > MYO_IDX_MAX_DIMS)
        return myo_data_fail(MYO_ERR_ARG, "myo_idx_parse: bad arguments");
    memset(out, 0, sizeof *out);
    if (!name) name = "IDX buffer";
    const uint32_t want = (uint32_t)MYO_IDX_UBYTE << 8 | (uint32_t)ndims;
    if (len < 4)
        return myo_data_fail(MYO_ERR_DATA,
                             "%s: %zu bytes, too short for an IDX magic number (4 bytes, "
                             "0x%08X)",
                             name, len, want);
    const uint32_t magic = be32(buf);
    if (buf[0] != 0 || buf[1] != 0)
        return myo_data_fail(MYO_ERR_DATA,
                             "%s: magic number 0x%08X is not IDX's (expected 0x%08X: unsigned "
                             "bytes in %d dimension%s)",
                             name, magic, want, ndims, ndims > 1 ? "s" : "");
    if (buf[2] != MYO_IDX_UBYTE)
        return myo_data_fail(MYO_ERR_DATA,
                             "%s: magic number 0x%08X: element type 0x%02X (%s), expected 0x%02X "
                             "(unsigned byte)",
                             name, magic, buf[2], type_name(buf[2]), MYO_IDX_UBYTE);
    if (buf[3] != ndims)
        return myo_data_fail(MYO_ERR_DATA,
                             "%s: magic number 0x%08X: %d dimension%s, expected %d (0x%08X)", name,
                             magic, buf[3], buf[3] == 1 ? "" : "s", ndims, want);
    const size_t header = 4 + 4 * (size_t)ndims;
    if (len < header)
        return myo_data_fail(MYO_ERR_DATA,
                             "%s: truncated header: %zu bytes, the magic number and %d sizes "
                             "take %zu",
                             name, len, ndims, header);
    uint64_t count = 1;
    int overflow = 0;
    for (int k = 0; k < ndims; k++) {
        uint32_t n = be32(buf + 4 + 4 * (size_t)k);
        out->dims[k] = n;
        if (n != 0 && count > UINT64_MAX / n) overflow = 1;
        if (!overflow) count *= n;
    }
    char sizes[96];
    sizes_text(out->dims, ndims, sizes, sizeof sizes);
    const uint64_t have = (uint64_t)(len - header);
    if (overflow || count > have)
        return myo_data_fail(MYO_ERR_DATA,
                             "%s: truncated: %llu bytes of elements, the sizes %s need %s%llu",
                             name, (unsigned long long)have, sizes, overflow ? "over " : "",
                             overflow ? (unsigned long long)UINT64_MAX : (unsigned long long)count);
    if (count < have)
        return myo_data_fail(
            MYO_ERR_DATA, "%s: %llu trailing bytes after the %llu elements of the sizes %s", name,
            (unsigned long long)(have - count), (unsigned long long)count, sizes);
    out->type = MYO_IDX_UBYTE;
    out->ndims = ndims;
    out->count = (int64_t)count;
    out->data = buf + header;
    return MYO_OK;
}

myo_status myo_idx_parse_set(const uint8_t *images, size_t images_len, const char *images_name,
                             const uint8_t *labels, size_t labels_len, const char *labels_name,
                             int rows, int cols, int classes, myo_idx_set *out)
{
    if (!out || rows < 1 || cols < 1 || classes < 1 || classes > 256)
        return myo_data_fail(MYO_ERR_ARG, "myo_idx_parse_set: bad arguments");
    memset(out, 0, sizeof *out);
    if (!images_name) images_name = "images";
    if (!labels_name) labels_name = "labels";
    myo_idx im, lb;
    myo_status st = myo_idx_parse(images, images_len, images_name, 3, &im);
    if (st == MYO_OK) st = myo_idx_parse(labels, labels_len, labels_name, 1, &lb);
    if (st != MYO_OK) return st;
    if (im.dims[1] != rows || im.dims[2] != cols)
        return myo_data_fail(MYO_ERR_DATA, "%s: images of %lld x %lld pixels, expected %d x %d",
                             images_name, (long long)im.dims[1], (long long)im.dims[2], rows, cols);
    if (im.dims[0] == 0) return myo_data_fail(MYO_ERR_DATA, "%s: no image", images_name);
    if (im.dims[0] != lb.dims[0])
        return myo_data_fail(MYO_ERR_DATA, "%s holds %lld images, but %s %lld labels", images_name,
                             (long long)im.dims[0], labels_name, (long long)lb.dims[0]);
    for (int64_t e = 0; e < lb.count; e++)
        if (lb.data[e] >= classes)
            return myo_data_fail(MYO_ERR_DATA, "%s: label %d of image %lld is not in 0..%d",
                                 labels_name, lb.data[e], (long long)e, classes - 1);
    out->count = im.dims[0];
    out->rows = rows;
    out->cols = cols;
    out->pixels = im.data;
    out->labels = lb.data;
    return MYO_OK;
}

/* The failure of a gzread or gzclose on path: MYO_ERR_IO for the system's
 * errors, MYO_ERR_DATA for the stream's. */
static myo_status gz_failure(gzFile g, int code, const char *path)
{
    int err = code;
    const char *msg = g ? gzerror(g, &err) : "";
    if (err == Z_ERRNO)
        return myo_data_fail(MYO_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    if (err == Z_MEM_ERROR) return myo_data_fail(MYO_ERR_NOMEM, "%s: zlib: out of memory", path);
    if (err == Z_BUF_ERROR)
        return myo_data_fail(MYO_ERR_DATA, "%s: truncated gzip stream (unexpected end of file)",
                             path);
    /* zlib's message starts with the name it knows the file by, "<fd:N>" */
    if (msg && strncmp(msg, "<fd:", 4) == 0 && strstr(msg, ": ")) msg = strstr(msg, ": ") + 2;
    return myo_data_fail(MYO_ERR_DATA, "%s: corrupt gzip stream: %s", path,
                         msg && msg[0] ? msg : "zlib error");
}

/* After gzread returned 0: the end of the data, or a stream cut short
 * (zlib 1.2.12 on returns 0 and records Z_BUF_ERROR). */
static myo_status gz_end(gzFile g, const char *path)
{
    int err = Z_OK;
    gzerror(g, &err);
    return err == Z_OK ? MYO_OK : gz_failure(g, err, path);
}

myo_status myo_idx_read_file(const char *path, uint8_t **buf, size_t *len)
{
    if (!path || !buf || !len) return myo_data_fail(MYO_ERR_ARG, "myo_idx_read_file: NULL");
    *buf = NULL;
    *len = 0;
    /* O_NONBLOCK: a FIFO opens at once, and fstat refuses it */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return myo_data_fail(MYO_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return myo_data_fail(MYO_ERR_IO, "%s: not a regular file", path);
    }
    gzFile g = gzdopen(fd, "rb");
    if (!g) {
        close(fd);
        return myo_data_fail(MYO_ERR_NOMEM, "%s: zlib: out of memory", path);
    }
    size_t cap = 0, used = 0;
    uint8_t *data = NULL;
    myo_status st = MYO_OK;
    for (;;) {
        if (used == cap && cap == MYO_IDX_MAX_BYTES) {
            /* full: one more byte (room kept below) says whether it ends */
            int got = gzread(g, data + used, 1);
            if (got > 0)
                st = myo_data_fail(MYO_ERR_DATA, "%s: over %zu MiB (decompressed)", path,
                                   MYO_IDX_MAX_BYTES >> 20);
            else
                st = got < 0 ? gz_failure(g, got, path) : gz_end(g, path);
            break;
        }
        if (used == cap) {
            size_t grow = cap ? 2 * cap : (size_t)1 << 20;
            if (grow > MYO_IDX_MAX_BYTES) grow = MYO_IDX_MAX_BYTES;
            uint8_t *more = realloc(data, grow + 1);
            if (!more) {
                st = myo_data_fail(MYO_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, grow);
                break;
            }
            data = more, cap = grow;
        }
        size_t want = cap - used < (size_t)INT_MAX ? cap - used : (size_t)INT_MAX;
        int got = gzread(g, data + used, (unsigned)want);
        if (got <= 0) {
            st = got < 0 ? gz_failure(g, got, path) : gz_end(g, path);
            break;
        }
        used += (size_t)got;
    }
    int rc = gzclose(g); /* closes fd */
    if (st == MYO_OK && rc != Z_OK) st = gz_failure(NULL, rc, path);
    if (st != MYO_OK) {
        free(data);
        return st;
    }
    *buf = data;
    *len = used;
    return MYO_OK;
}
