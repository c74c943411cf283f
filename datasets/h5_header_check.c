/*
 * h5_header_check.c -- the HDF5 structures the dataset reader relies on,
 * checked from the file's bytes before libhdf5 decodes them (what and why:
 * h5_header_check.h).
 *
 * Shapes (HDF5 file format specification, little-endian; O and L the
 * sizes of offsets and lengths the superblock gives):
 *   superblock v0/v1: signature(8) versions(5) O at 13, L at 14, ...,
 *     from 24 (28 in v1): base, free-space, end-of-file and driver
 *     addresses (O each), then the root symbol table entry: name offset (O),
 *     object header address (O), ...
 *   superblock v2/v3: signature(8) version(1) O(1) L(1) flags(1), then
 *     base, extension, end-of-file and root object header addresses (O).
 *   object header v1: version 1, reserved, message count (2), link count
 *     (4), first chunk size (4), padding (4), then the first chunk.  The
 *     messages tile each chunk: type (2), size (2, a multiple of 8), flags
 *     (1), reserved (3), size bytes.  Continuation (0x10): address (O) and
 *     length (L) of another chunk, holding messages only.
 *   object header v2: "OHDR", version 2, flags, [times 16], [phase
 *     change 4], first chunk size (1 << (flags & 3) bytes), chunk,
 *     checksum (4).
 *   attribute message (0x0c): version (1-3), flags (v2+: shared parts),
 *     name, datatype and dataspace sizes (2 each), [v3: name character set
 *     (1)], then name, datatype, dataspace (each padded to 8 in v1) and the
 *     data (points x element size).
 *   datatype: class and version (1), class bits (3), size (4), then the
 *     class's properties (compound members and enumeration names
 *     NUL-terminated, padded to 8 before v3; nested datatypes).
 *   dataspace: v1: version, rank, flags, 5 reserved; v2: version, rank,
 *     flags, class; then rank sizes (L) and, when flags & 1, rank maxima.
 *   layout (0x08) v3/v4: version, class; compact (0): size (2), data;
 *     contiguous (1): address (O), size (L).
 *   local heap: "HEAP", version 0, 3 reserved, data size (L), free list
 *     (L), data address (O).
 *   global heap collection: "GCOL", version 1, 3 reserved, size (L), then
 *     objects: index (2), references (2), reserved (4), size (L), data
 *     padded to 8; index 0 is the free space.  A variable-length value is
 *     its length (4), the collection's address (O) and the index (4).
 */
#include <config.h>

#include "h5_header_check.h"

#include "dataset_file.h"
#include "io/h5util.h" /* myo_h5_input_file */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct myo_h5_raw {
    int fd;
    const char *path;
    uint64_t size;   /* bytes in the file */
    uint64_t base;   /* where addresses count from: the superblock */
    unsigned so, sl; /* sizes of offsets and lengths */
    uint64_t root;   /* the root group's object header address */
};

enum {
    MSG_DSPACE = 0x01,
    MSG_DTYPE = 0x03,
    MSG_LAYOUT = 0x08,
    MSG_ATTR = 0x0c,
    MSG_CONT = 0x10,
    MSG_STAB = 0x11,
    MSG_FLAG_SHARED = 0x02
};
enum { MAX_NESTING = 8, MAX_RANK = 32 };

/* --------------------------------------------------------------- names */

myo_status myo_h5_names_add(myo_h5_names *n, const char *name)
{
    char **grown = realloc(n->names, ((size_t)n->count + 1) * sizeof *grown);
    char *copy = grown ? strdup(name) : NULL;
    if (grown) n->names = grown;
    if (!copy) return myo_data_fail(MYO_ERR_NOMEM, "attribute names: out of memory");
    n->names[n->count++] = copy;
    return MYO_OK;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

myo_status myo_h5_names_sort(myo_h5_names *n, const char *what)
{
    if (n->count > 1) qsort(n->names, (size_t)n->count, sizeof *n->names, cmp_names);
    for (int k = 1; k < n->count; k++)
        if (strcmp(n->names[k - 1], n->names[k]) == 0) {
            char shown[64];
            return myo_data_fail(MYO_ERR_DATA, "%s: attribute '%s' appears twice", what,
                                 myo_h5_printable(n->names[k], shown, sizeof shown));
        }
    return MYO_OK;
}

int myo_h5_names_find(const myo_h5_names *n, const char *name)
{
    return n->count > 0 &&
           bsearch(&name, n->names, (size_t)n->count, sizeof *n->names, cmp_names) != NULL;
}

void myo_h5_names_free(myo_h5_names *n)
{
    if (!n) return;
    for (int k = 0; k < n->count; k++)
        free(n->names[k]);
    free(n->names);
    n->names = NULL;
    n->count = 0;
}

const char *myo_h5_printable(const char *name, char *buf, size_t size)
{
    size_t k = 0;
    for (; name[k] && k + 1 < size; k++) {
        unsigned char ch = (unsigned char)name[k];
        buf[k] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    buf[k] = '\0';
    if (name[k] && size >= 4) memcpy(buf + size - 4, "...", 4);
    return buf;
}

/* ---------------------------------------------------------- file bytes */

static uint64_t le(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned k = n; k-- > 0;)
        v = v << 8 | p[k];
    return v;
}

/* All len bytes at file offset off: 0, or -1 (outside the file, or a
 * short read). */
static int read_at(const myo_h5_raw *f, uint64_t off, void *buf, size_t len)
{
    if (off > f->size || len > f->size - off) return -1;
    for (size_t done = 0; done < len;) {
        ssize_t r = pread(f->fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        done += (size_t)r;
    }
    return 0;
}

/* The undefined address (all bits set) of the file's offset size. */
static uint64_t undefined_addr(const myo_h5_raw *f)
{
    return f->so == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * f->so)) - 1;
}

/* The file offset of the len bytes at address addr when they lie in the
 * file (and addr is not the undefined address): 0, else -1. */
static int locate(const myo_h5_raw *f, uint64_t addr, uint64_t len, uint64_t *off)
{
    if (addr == undefined_addr(f) || addr > f->size || f->base > f->size - addr) return -1;
    uint64_t o = f->base + addr;
    if (len > f->size - o) return -1;
    *off = o;
    return 0;
}

/* A file whose framing is broken: MYO_ERR_IO, as libhdf5's refusals. */
static myo_status corrupt(const myo_h5_raw *f, const char *fmt, ...) MYO_DATA_PRINTF(2, 3);
static myo_status corrupt(const myo_h5_raw *f, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return myo_data_fail(MYO_ERR_IO, "%s: not an HDF5 file, or truncated or corrupt: %s", f->path,
                         what);
}

static myo_status read_superblock(myo_h5_raw *f)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char b[96];
    uint64_t at = 0;
    for (;;) { /* at 0, or after a user block of 512, 1024, 2048, ... bytes */
        if (at > f->size || f->size - at < sizeof sig) return corrupt(f, "no HDF5 signature");
        if (read_at(f, at, b, sizeof sig) < 0) return corrupt(f, "cannot read the superblock");
        if (memcmp(b, sig, sizeof sig) == 0) break;
        at = at ? 2 * at : 512;
    }
    size_t have = f->size - at < sizeof b ? (size_t)(f->size - at) : sizeof b;
    memset(b, 0, sizeof b);
    if (read_at(f, at, b, have) < 0) return corrupt(f, "cannot read the superblock");
    unsigned version = b[8];
    size_t p;
    if (version <= 1)
        f->so = b[13], f->sl = b[14], p = version == 1 ? 28 : 24;
    else if (version <= 3)
        f->so = b[9], f->sl = b[10], p = 12;
    else
        return corrupt(f, "superblock version %u", version);
    if ((f->so != 2 && f->so != 4 && f->so != 8) || (f->sl != 2 && f->sl != 4 && f->sl != 8))
        return corrupt(f, "superblock: sizes of offsets and lengths %u and %u", f->so, f->sl);
    /* v0/v1: four addresses, then the root entry's name offset and header
     * address; v2/v3: the root header address is the fourth address */
    size_t root_at = p + (version <= 1 ? 5 : 3) * f->so;
    if (root_at + f->so > have) return corrupt(f, "superblock truncated");
    f->root = le(b + root_at, f->so);
    f->base = at;
    /* The end-of-file address (the third address in every version, after
     * the base): libhdf5 reads nothing beyond it, so neither do the checks.
     * A file shorter than it is truncated; libhdf5 leaks its own objects on
     * some failures past it, hence the checks refuse what lies there
     * first. */
    uint64_t eof = le(b + p + 2 * f->so, f->so), base = le(b + p, f->so);
    /* libhdf5 counts addresses from the superblock, moving the end by the
     * difference when the base address says otherwise */
    if (base > at) eof = eof > base - at ? eof - (base - at) : 0;
    if (base < at) eof = eof + (at - base) < eof ? UINT64_MAX : eof + (at - base);
    if (eof > f->size || at > f->size - eof)
        return corrupt(f, "truncated (the superblock says %llu bytes, the file has %llu)",
                       (unsigned long long)(at + eof), (unsigned long long)f->size);
    f->size = at + eof;
    return MYO_OK;
}

myo_status myo_h5_raw_open(const char *path, myo_h5_raw **out)
{
    *out = NULL;
    if (myo_h5_input_file(path) != MYO_OK)
        return myo_data_fail(MYO_ERR_IO, "%s", myo_error_detail());
    struct stat st;
    /* O_NONBLOCK: should the path have turned into a FIFO since, open
     * returns at once and fstat refuses it */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return myo_data_fail(MYO_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    myo_h5_raw *f = calloc(1, sizeof *f);
    if (!f) {
        close(fd);
        return myo_data_fail(MYO_ERR_NOMEM, "%s: out of memory", path);
    }
    f->fd = fd;
    f->path = path;
    myo_status s = MYO_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        s = myo_data_fail(MYO_ERR_IO, "%s: not a regular file", path);
    f->size = (uint64_t)st.st_size;
    if (s == MYO_OK) s = read_superblock(f);
    if (s != MYO_OK) {
        myo_h5_raw_close(f);
        return s;
    }
    *out = f;
    return MYO_OK;
}

void myo_h5_raw_close(myo_h5_raw *f)
{
    if (!f) return;
    close(f->fd);
    free(f);
}

/* ------------------------------------------------- datatypes and spaces */

/* Bytes of a message being decoded. */
typedef struct {
    const unsigned char *p, *end;
} cursor;

/* The next n bytes (advancing past them), or NULL when fewer remain. */
static const unsigned char *take(cursor *c, uint64_t n)
{
    if ((uint64_t)(c->end - c->p) < n) return NULL;
    const unsigned char *q = c->p;
    c->p += n;
    return q;
}

/* A NUL-terminated name inside c, padded to 8 bytes before version 3:
 * 0, or -1 when it is not terminated in time. */
static int take_name(cursor *c, unsigned version)
{
    const unsigned char *z = memchr(c->p, 0, (size_t)(c->end - c->p));
    if (!z) return -1;
    uint64_t len = (uint64_t)(z - c->p);
    return take(c, version >= 3 ? len + 1 : (len + 8) / 8 * 8) ? 0 : -1;
}

/* What a datatype decodes to: its class and the bytes of one element in
 * the file (for variable-length data: length, heap address, index). */
typedef struct {
    unsigned cls;
    uint64_t size;
    int vlen_string;
} dtype_facts;

enum {
    CLS_INTEGER = 0,
    CLS_FLOAT = 1,
    CLS_TIME = 2,
    CLS_STRING = 3,
    CLS_BITFIELD = 4,
    CLS_OPAQUE = 5,
    CLS_COMPOUND = 6,
    CLS_REFERENCE = 7,
    CLS_ENUM = 8,
    CLS_VLEN = 9,
    CLS_ARRAY = 10
};

static const char *const RUNS_PAST = "datatype runs past its message";

static const char *check_dtype(const myo_h5_raw *f, cursor *c, int depth, dtype_facts *t);

static const char *check_compound(const myo_h5_raw *f, cursor *c, int depth, unsigned version,
                                  uint32_t bits, uint64_t size)
{
    unsigned nmembs = bits & 0xffff;
    if (nmembs == 0) return "compound datatype without members";
    unsigned offset_bytes = 1; /* version 3: as many as size needs */
    for (uint64_t s = size; s > 0xff; s >>= 8)
        offset_bytes++;
    uint64_t *span = malloc(2 * (size_t)nmembs * sizeof *span); /* offset, size */
    if (!span) return "compound datatype: out of memory";
    const char *why = NULL;
    for (unsigned m = 0; m < nmembs && !why; m++) {
        if (take_name(c, version) < 0) {
            why = "compound member name not terminated inside its message";
            break;
        }
        const unsigned char *q = take(c, version >= 3 ? offset_bytes : 4);
        if (!q) {
            why = RUNS_PAST;
            break;
        }
        uint64_t offset = le(q, version >= 3 ? offset_bytes : 4), nelem = 1;
        if (version == 1) { /* rank (<= 4), reserved, permutation, reserved, 4 sizes */
            q = take(c, 28);
            if (!q || q[0] > 4) {
                why = q ? "compound member of more than 4 dimensions" : RUNS_PAST;
                break;
            }
            for (unsigned k = 0; k < q[0] && !why; k++) {
                uint64_t dim = le(q + 12 + 4 * k, 4);
                if (dim == 0 || nelem > UINT32_MAX / dim) why = "compound member dimension 0";
                nelem *= dim ? dim : 1;
            }
            if (why) break;
        }
        dtype_facts mt;
        why = check_dtype(f, c, depth + 1, &mt);
        if (why) break;
        uint64_t msize = mt.size * nelem;
        if (offset > size || msize > size - offset) {
            why = "compound member outside the compound";
            break;
        }
        for (unsigned k = 0; k < m && !why; k++)
            if (offset < span[2 * k] + span[2 * k + 1] && span[2 * k] < offset + msize)
                why = "compound members overlap";
        span[2 * m] = offset;
        span[2 * m + 1] = msize;
    }
    free(span);
    return why;
}

/* The datatype at c (advancing past it): NULL, or what is wrong. */
static const char *check_dtype(const myo_h5_raw *f, cursor *c, int depth, dtype_facts *t)
{
    const unsigned char *h = take(c, 8), *q;
    if (!h) return RUNS_PAST;
    if (depth > MAX_NESTING) return "datatypes nested too deeply";
    unsigned cls = h[0] & 0x0f, version = h[0] >> 4;
    uint32_t bits = (uint32_t)h[1] | (uint32_t)h[2] << 8 | (uint32_t)h[3] << 16;
    uint64_t size = le(h + 4, 4), nbits = 8 * size;
    if (version < 1 || version > 3) return "datatype version not 1, 2 or 3";
    if (size == 0) return "datatype of size 0";
    t->cls = cls;
    t->size = size;
    t->vlen_string = 0;
    switch (cls) {
    case CLS_INTEGER:
    case CLS_BITFIELD: /* bit offset, precision */
        if (!(q = take(c, 4))) return RUNS_PAST;
        if (le(q + 2, 2) == 0 || le(q, 2) + le(q + 2, 2) > nbits)
            return "integer bits outside its size";
        return NULL;
    case CLS_FLOAT: { /* offset, precision, exponent and mantissa fields, bias */
        if (!(q = take(c, 12))) return RUNS_PAST;
        if (((bits >> 4) & 3) == 3) return "unknown floating-point normalization";
        if (version >= 3 && (bits & 0x40) && !(bits & 1)) return "unknown floating-point order";
        uint64_t sign = (bits >> 8) & 0xff, prec = le(q + 2, 2);
        if (prec == 0 || q[5] == 0 || q[7] == 0) return "floating-point field of no bits";
        if (le(q, 2) + prec > nbits || sign >= nbits || (uint64_t)q[4] + q[5] > nbits ||
            (uint64_t)q[6] + q[7] > nbits)
            return "floating-point bits outside its size";
        return NULL;
    }
    case CLS_TIME:
        return take(c, 2) ? NULL : RUNS_PAST;
    case CLS_STRING:
        if ((bits & 0xf) > 2 || ((bits >> 4) & 0xf) > 1)
            return "unknown string padding or character set";
        return NULL;
    case CLS_OPAQUE:
        if ((bits & 0xff) % 8) return "opaque tag not padded to 8 bytes";
        return take(c, bits & 0xff) ? NULL : RUNS_PAST;
    case CLS_COMPOUND:
        return check_compound(f, c, depth, version, bits, size);
    case CLS_REFERENCE:
        return (bits & 0xf) > 1 ? "unknown reference type" : NULL;
    case CLS_ENUM: {
        dtype_facts base;
        const char *why = check_dtype(f, c, depth + 1, &base);
        if (why) return why;
        if (base.cls != CLS_INTEGER || base.size != size)
            return "enumeration not over an integer of its size";
        for (unsigned m = 0; m < (bits & 0xffff); m++)
            if (take_name(c, version) < 0) return "enumeration name not terminated";
        return take(c, (uint64_t)(bits & 0xffff) * size) ? NULL : RUNS_PAST;
    }
    case CLS_VLEN: {
        unsigned kind = bits & 0xf; /* 0 sequence, 1 string */
        if (kind > 1 || (kind == 1 && (((bits >> 4) & 0xf) > 2 || ((bits >> 8) & 0xf) > 1)))
            return "unknown variable-length kind, padding or character set";
        dtype_facts base;
        const char *why = check_dtype(f, c, depth + 1, &base);
        if (why) return why;
        if (size != 4 + (uint64_t)f->so + 4)
            return "variable-length datatype not of its stored size";
        if (kind == 1 && (base.cls != CLS_INTEGER || base.size != 1))
            return "variable-length string not of bytes";
        t->vlen_string = kind == 1;
        return NULL;
    }
    case CLS_ARRAY: {
        if (!(q = take(c, 1))) return RUNS_PAST;
        unsigned ndims = q[0];
        if (ndims == 0 || ndims > MAX_RANK) return "array datatype of 0 or over 32 dimensions";
        if (version < 3 && !take(c, 3)) return RUNS_PAST;
        if (!(q = take(c, 4 * (uint64_t)ndims))) return RUNS_PAST;
        uint64_t nelem = 1;
        for (unsigned k = 0; k < ndims; k++) {
            uint64_t dim = le(q + 4 * k, 4);
            if (dim == 0 || nelem > UINT32_MAX / dim)
                return "array datatype dimension 0 or too large";
            nelem *= dim;
        }
        if (version < 3 && !take(c, 4 * (uint64_t)ndims)) return RUNS_PAST; /* permutation */
        dtype_facts base;
        const char *why = check_dtype(f, c, depth + 1, &base);
        if (why) return why;
        if (base.size * nelem != size) return "array datatype not the size of its elements";
        return NULL;
    }
    default:
        return "unknown datatype class";
    }
}

/* The dataspace at c: NULL and its number of points, or what is wrong. */
static const char *check_dspace(const myo_h5_raw *f, cursor *c, uint64_t *points)
{
    const unsigned char *h = take(c, 4);
    if (!h) return "dataspace runs past its message";
    unsigned version = h[0], rank = h[1], flags = h[2], kind; /* 0 scalar, 1 simple, 2 null */
    if (version == 1) {
        if (!take(c, 4)) return "dataspace runs past its message";
        kind = rank ? 1 : 0;
    } else if (version == 2) {
        kind = h[3];
        if (kind > 2 || (kind == 1) != (rank > 0)) return "dataspace class and rank disagree";
    } else {
        return "dataspace version not 1 or 2";
    }
    if (rank > MAX_RANK) return "dataspace of more than 32 dimensions";
    if (flags & ~1u) return "unknown dataspace flags";
    const unsigned char *dims = take(c, (uint64_t)rank * f->sl);
    if (!dims || ((flags & 1) && !take(c, (uint64_t)rank * f->sl)))
        return "dataspace runs past its message";
    uint64_t n = kind == 2 ? 0 : 1;
    for (unsigned k = 0; k < rank; k++) {
        uint64_t d = le(dims + k * f->sl, f->sl);
        if (d && n > UINT64_MAX / d) return "dataspace of too many points";
        n *= d;
    }
    *points = n;
    return NULL;
}

/* ------------------------------------------------------ the global heap */

/* The variable-length value at v (length, collection address, index) of
 * elem bytes each: NULL when it is empty or its heap object lies inside
 * its collection with exactly those bytes -- libhdf5 1.10 copies the
 * object's own size into a buffer of the value's length -- else what is
 * wrong. */
static const char *check_vlen_value(const myo_h5_raw *f, const unsigned char *v, uint64_t elem)
{
    uint64_t len = le(v, 4), addr = le(v + 4, f->so), idx = le(v + 4 + f->so, 4);
    if (len == 0) return NULL;
    const uint64_t hdr = 8 + (uint64_t)f->sl, objhdr = 8 + (uint64_t)f->sl;
    unsigned char head[16];
    uint64_t off;
    if (locate(f, addr, hdr, &off) < 0 || read_at(f, off, head, (size_t)hdr) < 0 ||
        memcmp(head, "GCOL", 4) != 0 || head[4] != 1)
        return "variable-length value: no global heap collection where it says";
    uint64_t size = le(head + 8, f->sl);
    if (size < hdr || size > MYO_H5_HEADER_MAX || locate(f, addr, size, &off) < 0)
        return "variable-length value: global heap collection of a bad size";
    unsigned char *col = malloc((size_t)size);
    if (!col) return "variable-length value: out of memory";
    const char *why = NULL;
    int found = 0;
    uint64_t found_size = 0;
    if (read_at(f, off, col, (size_t)size) < 0)
        why = "variable-length value: cannot read its global heap collection";
    /* the objects as libhdf5 walks them (the last of an index counts) */
    for (uint64_t p = hdr; !why && size - p >= objhdr;) {
        uint64_t id = le(col + p, 2), osize = le(col + p + 8, f->sl);
        uint64_t need = id ? objhdr + (osize + 7) / 8 * 8 : osize;
        if (osize > size || need > size - p || need < objhdr)
            why = "variable-length value: corrupt global heap collection";
        if (id == idx && idx != 0) found = 1, found_size = osize;
        p += need;
    }
    if (!why && !found) why = "variable-length value: no such object in its global heap";
    if (!why && found_size != len * elem)
        why = "variable-length value: heap object of another length";
    free(col);
    return why;
}

/* ----------------------------------------------------- object headers */

/* The messages of an object header, one at a time. */
typedef myo_status (*message_fn)(myo_h5_raw *f, unsigned type, unsigned flags,
                                 const unsigned char *data, uint64_t size, void *ctx);

typedef struct {
    uint64_t off, len;
} span;

/* The version-2 header at off: its first chunk inside the file (libhdf5
 * verifies the checksums, but allocates the chunk first). */
static myo_status check_v2_prefix(myo_h5_raw *f, uint64_t off, const char *what)
{
    unsigned char b[32];
    if (read_at(f, off, b, 6) < 0 || b[4] != 2) return corrupt(f, "%s: bad object header", what);
    unsigned flags = b[5];
    uint64_t at = 6 + (flags & 0x20 ? 16 : 0) + (flags & 0x10 ? 4 : 0), n = 1u << (flags & 3);
    if (read_at(f, off + at, b, (size_t)n) < 0) return corrupt(f, "%s: bad object header", what);
    uint64_t len = le(b, (unsigned)n);
    if (len > f->size || at + n + len + 4 > f->size - off)
        return corrupt(f, "%s: object header chunk of %llu bytes outside the file", what,
                       (unsigned long long)len);
    return MYO_OK;
}

/* Walk the chunks of the version-1 object header at addr, calling fn for
 * every message but continuations; *version is 1, or 2 for a checksummed
 * header (then only its first chunk's size is checked, and fn is never
 * called). */
static myo_status walk_header(myo_h5_raw *f, uint64_t addr, const char *what, message_fn fn,
                              void *ctx, int *version)
{
    unsigned char pre[16];
    uint64_t off;
    if (locate(f, addr, 16, &off) < 0 || read_at(f, off, pre, sizeof pre) < 0)
        return corrupt(f, "%s: object header at %llu outside the file", what,
                       (unsigned long long)addr);
    if (memcmp(pre, "OHDR", 4) == 0) {
        *version = 2;
        return check_v2_prefix(f, off, what);
    }
    *version = 1;
    if (pre[0] != 1) return corrupt(f, "%s: object header version %u", what, pre[0]);
    uint64_t nmesgs = le(pre + 2, 2);
    span first = {off + 16, le(pre + 8, 4)};
    if ((nmesgs > 0 && first.len < 8) || (nmesgs == 0 && first.len > 0) ||
        first.len > f->size - first.off)
        return corrupt(f, "%s: object header of %llu bytes outside the file", what,
                       (unsigned long long)first.len);
    span *chunks = malloc(sizeof *chunks);
    if (!chunks) return myo_data_fail(MYO_ERR_NOMEM, "%s: out of memory", f->path);
    chunks[0] = first;
    int nchunks = 1;
    uint64_t total = 0;
    myo_status s = MYO_OK;
    for (int c = 0; c < nchunks && s == MYO_OK; c++) {
        span ch = chunks[c];
        if (ch.len > MYO_H5_HEADER_MAX - total) {
            s = corrupt(f, "%s: object header over %llu bytes", what,
                        (unsigned long long)MYO_H5_HEADER_MAX);
            break;
        }
        total += ch.len;
        unsigned char *buf = malloc(ch.len ? (size_t)ch.len : 1);
        if (!buf) {
            s = myo_data_fail(MYO_ERR_NOMEM, "%s: out of memory", f->path);
            break;
        }
        if (read_at(f, ch.off, buf, (size_t)ch.len) < 0)
            s = corrupt(f, "%s: cannot read an object header chunk", what);
        for (uint64_t p = 0; p < ch.len && s == MYO_OK;) {
            if (ch.len - p < 8) {
                s = corrupt(f, "%s: object header chunk ends inside a message", what);
                break;
            }
            unsigned type = (unsigned)le(buf + p, 2), flags = buf[p + 4];
            uint64_t size = le(buf + p + 2, 2);
            if (size % 8 || size > ch.len - p - 8) {
                s = corrupt(f, "%s: object header message of %llu bytes past its chunk", what,
                            (unsigned long long)size);
                break;
            }
            const unsigned char *data = buf + p + 8;
            p += 8 + size;
            if (type != MSG_CONT) {
                s = fn(f, type, flags, data, size, ctx);
                continue;
            }
            span next = {0, size >= (uint64_t)f->so + f->sl ? le(data + f->so, f->sl) : 0};
            if (next.len == 0 || locate(f, le(data, f->so), next.len, &next.off) < 0) {
                s = corrupt(f, "%s: object header continuation outside the file", what);
                break;
            }
            int clash = next.off < off + 16 && off < next.off + next.len;
            for (int k = 0; k < nchunks && !clash; k++)
                clash =
                    next.off < chunks[k].off + chunks[k].len && chunks[k].off < next.off + next.len;
            if (clash || nchunks >= MYO_H5_MAX_CHUNKS) {
                s = corrupt(f, "%s: object header chunks overlap or exceed %d", what,
                            MYO_H5_MAX_CHUNKS);
                break;
            }
            span *grown = realloc(chunks, ((size_t)nchunks + 1) * sizeof *grown);
            if (!grown) {
                s = myo_data_fail(MYO_ERR_NOMEM, "%s: out of memory", f->path);
                break;
            }
            chunks = grown;
            chunks[nchunks++] = next;
        }
        free(buf);
    }
    free(chunks);
    return s;
}

/* The attribute message m (len bytes): NULL, or what is wrong; *name
 * points into m once the name has been found sound. */
static const char *check_attr(const myo_h5_raw *f, const unsigned char *m, uint64_t len,
                              const char **name)
{
    *name = NULL;
    if (len < 9) return "shorter than its header";
    unsigned version = m[0];
    if (version < 1 || version > 3) return "version not 1, 2 or 3";
    if (version >= 2 && m[1])
        return m[1] & ~3u ? "unknown flags"
                          : "datatype or dataspace shared with another object (not supported)";
    uint64_t name_len = le(m + 2, 2), dt_len = le(m + 4, 2), ds_len = le(m + 6, 2);
    uint64_t at = version == 3 ? 9 : 8;
    if (version == 3 && m[8] > 1) return "unknown name character set";
#define PADDED(x) (version == 1 ? ((x) + 7) / 8 * 8 : (x))
    if (name_len < 2 || PADDED(name_len) > len - at) return "name longer than the message";
    const char *nm = (const char *)m + at;
    if (nm[name_len - 1] != '\0' || memchr(nm, 0, (size_t)name_len - 1))
        return "name not NUL-terminated where its length says";
    *name = nm;
    at += PADDED(name_len);
    if (PADDED(dt_len) > len - at) return "datatype longer than the message";
    cursor c = {m + at, m + at + dt_len};
    dtype_facts t;
    const char *why = check_dtype(f, &c, 0, &t);
    if (why) return why;
    at += PADDED(dt_len);
    if (PADDED(ds_len) > len - at) return "dataspace longer than the message";
    c = (cursor){m + at, m + at + ds_len};
    uint64_t points = 0;
    if ((why = check_dspace(f, &c, &points))) return why;
    at += PADDED(ds_len);
#undef PADDED
    if (points && t.size > (len - at) / points) return "data longer than the message";
    /* a string of variable length: the one value the reader may read */
    if (t.vlen_string && points == 1) return check_vlen_value(f, m + at, 1);
    return NULL;
}

/* ------------------------------------------------------------ the root */

typedef struct {
    myo_h5_names *names;
    int index; /* attribute messages seen */
} root_walk;

/* The root group's local heap (its link names): inside the file, and its
 * last byte NUL, so that no name libhdf5 compares runs past it. */
static myo_status check_local_heap(myo_h5_raw *f, uint64_t addr)
{
    unsigned char b[40], last = 0;
    uint64_t off, data_off;
    size_t len = 8 + 2 * (size_t)f->sl + f->so;
    uint64_t size = 0;
    int bad = locate(f, addr, len, &off) < 0 || read_at(f, off, b, len) < 0 ||
              memcmp(b, "HEAP", 4) != 0 || b[4] != 0;
    if (!bad) size = le(b + 8, f->sl);
    if (!bad) bad = locate(f, le(b + 8 + 2 * f->sl, f->so), size, &data_off) < 0;
    if (!bad && size) bad = read_at(f, data_off + size - 1, &last, 1) < 0 || last != 0;
    if (bad) return corrupt(f, "the root group's local heap is corrupt or outside the file");
    return MYO_OK;
}

static myo_status root_message(myo_h5_raw *f, unsigned type, unsigned flags,
                               const unsigned char *data, uint64_t size, void *ctx)
{
    root_walk *w = ctx;
    if (type == MSG_STAB) {
        if (size < 2 * (uint64_t)f->so) return corrupt(f, "the root group's symbol table message");
        return check_local_heap(f, le(data + f->so, f->so));
    }
    if (type != MSG_ATTR) return MYO_OK;
    w->index++;
    const char *name = NULL;
    const char *why = flags & MSG_FLAG_SHARED
                          ? "stored in another object (shared messages are not supported)"
                          : check_attr(f, data, size, &name);
    if (why) {
        char shown[64];
        return myo_data_fail(
            MYO_ERR_DATA, "%s: corrupt attribute message %d of the root group%s%s%s: %s", f->path,
            w->index, name ? " ('" : "", name ? myo_h5_printable(name, shown, sizeof shown) : "",
            name ? "')" : "", why);
    }
    return myo_h5_names_add(w->names, name);
}

myo_status myo_h5_check_root(myo_h5_raw *f, myo_h5_root *root)
{
    memset(root, 0, sizeof *root);
    root_walk w = {&root->attrs, 0};
    int version = 0;
    myo_status s = walk_header(f, f->root, "the root group", root_message, &w, &version);
    if (s == MYO_OK) s = myo_h5_names_sort(&root->attrs, f->path);
    if (s != MYO_OK) {
        myo_h5_names_free(&root->attrs);
        return s;
    }
    root->checked = version == 1;
    return MYO_OK;
}

/* ---------------------------------------------------------- an object */

typedef struct {
    const char *what;
} object_walk;

/* A layout message of version 3 or 4 (what libhdf5 1.8 and later
 * write): compact data inside the message, contiguous data inside the
 * file (libhdf5 1.10 reads past the end of the file as zeros); NULL, or
 * what is wrong.  Chunked layouts and older versions are left to
 * libhdf5. */
static const char *check_layout(const myo_h5_raw *f, const unsigned char *m, uint64_t size)
{
    if (size < 2 || (m[0] != 3 && m[0] != 4)) return NULL;
    uint64_t off;
    if (m[1] == 0) /* compact: size (2), the data */
        return size < 4 || le(m + 2, 2) > size - 4 ? "compact data longer than the message" : NULL;
    if (m[1] != 1) return NULL;
    if (size < 2 + (uint64_t)f->so + f->sl) return "layout message too short";
    uint64_t addr = le(m + 2, f->so), len = le(m + 2 + f->so, f->sl);
    if (addr != undefined_addr(f) && locate(f, addr, len, &off) < 0) return "data outside the file";
    return NULL;
}

static myo_status object_message(myo_h5_raw *f, unsigned type, unsigned flags,
                                 const unsigned char *data, uint64_t size, void *ctx)
{
    object_walk *w = ctx;
    const char *kind = type == MSG_DTYPE    ? "datatype"
                       : type == MSG_DSPACE ? "dataspace"
                       : type == MSG_LAYOUT ? "layout"
                                            : NULL,
               *why;
    if (!kind) return MYO_OK;
    cursor c = {data, data + size};
    dtype_facts t;
    uint64_t points;
    if (flags & MSG_FLAG_SHARED)
        why = "shared with another object (committed datatypes are not supported)";
    else if (type == MSG_LAYOUT)
        why = check_layout(f, data, size);
    else
        why = type == MSG_DTYPE ? check_dtype(f, &c, 0, &t) : check_dspace(f, &c, &points);
    if (why)
        return myo_data_fail(MYO_ERR_DATA, "%s: %s: corrupt %s message: %s", f->path, w->what, kind,
                             why);
    return MYO_OK;
}

myo_status myo_h5_check_object(myo_h5_raw *f, uint64_t addr, const char *what)
{
    object_walk w = {what};
    int version = 0;
    return walk_header(f, addr, what, object_message, &w, &version);
}
