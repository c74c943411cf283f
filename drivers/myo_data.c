/* myo_data.c -- myo-data: make, load, reorder and inspect the LRA dataset
 * files myo-lra reads (README.md, "myo-data"; layout in
 * datasets/dataset_file.h).
 *
 *   myo-data listops|pathfinder            generate a task from a seed;
 *   myo-data cifar|pathfinder-load|listops-load|text|retrieval
 *                                          convert LRA's released data;
 *   myo-data fashion-mnist                 load Fashion-MNIST's IDX files;
 *   myo-data order                         reorder the pixels of an image
 *                                          dataset (morton, hilbert, raster);
 *   myo-data inspect                       summarize a dataset file.
 *
 * Output files are written to a temporary name in the target directory
 * and renamed when complete (no partial file on failure); the same inputs
 * give the same bytes. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <config.h>

#include "cli.h"
#include "options.h"
#include "dataset_file.h"
#include "images.h"
#include "listops.h"
#include "orderings.h"
#include "pathfinder.h"
#include "text.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOOL "myo-data"

static void myo_data_help(void)
{
    printf("Usage: " TOOL " SUBCOMMAND [OPTION]... -o FILE\n"
           "       " TOOL " inspect FILE\n"
           "\n"
           "Make the LRA dataset files myo-lra reads (HDF5, format myo-data/1).\n"
           "\n"
           "Generators (reproducible: the same seed gives the same bytes):\n"
           "  listops --n N [--seed S] [--length L] -o FILE\n"
           "      N ListOps expressions (LRA's generator), L tokens each (default 2000)\n"
           "      splits 96%% / 2%% / 2%% (train / validation / test), as LRA's\n"
           "  pathfinder --size 32|128 --difficulty easy|medium|hard --n N [--seed S]\n"
           "             [--threads T] [--ordering O] -o FILE\n"
           "      N Pathfinder (32) or Path-X (128) images; difficulty also 6|9|14;\n"
           "      splits 80%% / 10%% / 10%%; T threads (default: the CPUs it may run on;\n"
           "      the same bytes for any T)\n"
           "Loaders of LRA's released data:\n"
           "  cifar DIR [--split all|train|test] [--ordering O] -o FILE\n"
           "      CIFAR-10 binary batches in DIR (cifar-10-batches-bin), as gray levels;\n"
           "      all (default): 45,000 / 5,000 / 10,000 (LRA's), train or test: no splits\n"
           "  pathfinder-load DIR --size 32|128 --difficulty D [--n MAX] [--ordering O]\n"
           "                  -o FILE\n"
           "      DIR is lra_release (containing pathfinderSIZE/) or pathfinderSIZE itself;\n"
           "      splits 80%% / 10%% / 10%% in file order\n"
           "  listops-load FILE.tsv [--length L] -o FILE\n"
           "  listops-load --train A --validation B --test C [--length L] -o FILE\n"
           "      LRA's basic_{train,val,test}.tsv: one file (no splits), or the three\n"
           "      in one file with their splits\n"
           "  text DIR [--length L] -o FILE\n"
           "  text --imdb DIR [--split train|test] [--length L] -o FILE\n"
           "      byte-level Text: DIR/neg, DIR/pos (or aclImdb's DIR/SPLIT/...), L bytes\n"
           "      per document (default 4096)\n"
           "  retrieval FILE.tsv [--length L] -o FILE\n"
           "      AAN pairs (new_aan_pairs.*.tsv), L bytes per document (default 4000)\n"
           "Other data:\n"
           "  fashion-mnist [DIR] [--ordering O] -o FILE\n"
           "      Fashion-MNIST's IDX files (plain or .gz) in DIR, default\n"
           "      " MYO_FMNIST_DIR "; 28x28 centred in 32x32;\n"
           "      splits 54,000 / 6,000 / 10,000\n"
           "Others:\n"
           "  order FILE --ordering morton|hilbert|raster -o FILE\n"
           "      reorder the pixels of an image dataset (records the 'ordering' attribute)\n"
           "  inspect FILE\n"
           "      task, counts, splits, label distribution (per split too), length\n"
           "      statistics, vocabulary use and attributes\n"
           "--ordering O (morton, hilbert or raster, the default) writes the pixels of an\n"
           "image dataset in that order, as order does.\n"
           "\n"
           "Common options: --seed S (default 1), -o/--output FILE, --help, --version.\n"
           "Integers (--n, --length, --size, --seed) take K, M, G suffixes (powers of\n"
           "1024) or 2^k.\n"
           "\n"
           "Exit status: 0 success, 2 usage error, 3 invalid input data, 5 a file cannot\n"
           "be read or written, 6 out of memory or internal failure.\n");
}

/* One diagnostic line on stderr (usage errors point to the help). */
static int fail(int code, int usage, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(int code, int usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    myo_cli_vfail(TOOL, code, usage, fmt, ap);
    va_end(ap);
    return code;
}

/* A failed datasets/ call: its detail (myo_data_error()). */
static int fail_status(const char *sub, myo_status s)
{
    const char *detail = myo_data_error();
    if (!detail || !detail[0]) detail = myo_status_str(s);
    return fail(myo_cli_exit_code(s), 0, "%s: %s", sub, detail);
}

/* ------------------------------------------------------------- options */

static const char *const split_words[] = {"train", "test", NULL};
/* cifar's --split: LRA's three splits in one file, or one CIFAR-10 split */
static const char *const cifar_split_words[] = {"all", "train", "test", NULL};

typedef struct {
    int64_t n;      /* --n (0: not given) */
    int64_t seed;   /* --seed */
    int64_t length; /* --length (0: the task's default) */
    int64_t size;   /* --size (0: not given) */
    myo_pf_difficulty difficulty;
    myo_ordering ordering;
    int has_difficulty, has_ordering;
    int split; /* --split: the index in its words, -1 when not given */
    int64_t threads; /* --threads (0: not given) */
    const char *split_files[MYO_SPLITS]; /* --train, --validation, --test */
    const char *imdb, *output;
    const char *input; /* the operand */
} options;

static void options_init(options *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->split = -1;
}

static int parse_difficulty(const char *text, void *value)
{
    return myo_pf_difficulty_parse(text, value) == MYO_OK ? 0 : -1;
}

static int parse_ordering(const char *text, void *value)
{
    return myo_ordering_parse(text, value) == MYO_OK ? 0 : -1;
}

/* The options of the subcommands, each in the vocabulary's kind. */
static opt_spec spec_n(options *o)
{
    return (opt_spec){.name = "n", .kind = OPT_INT, .value = &o->n, .lo = 1, .hi = INT32_MAX};
}
static opt_spec spec_seed(options *o)
{
    return (opt_spec){.name = "seed", .kind = OPT_INT, .value = &o->seed, .lo = 0,
                      .hi = INT64_MAX};
}
static opt_spec spec_length(options *o)
{
    return (opt_spec){.name = "length", .kind = OPT_INT, .value = &o->length, .lo = 1,
                      .hi = INT32_MAX};
}
static opt_spec spec_size(options *o)
{
    return (opt_spec){.name = "size", .kind = OPT_INT, .value = &o->size, .lo = 1, .hi = INT32_MAX};
}
static opt_spec spec_difficulty(options *o)
{
    return (opt_spec){.name = "difficulty", .kind = OPT_CUSTOM, .value = &o->difficulty,
                      .given = &o->has_difficulty, .parse = parse_difficulty,
                      .expect = "easy, medium, hard, 6, 9 or 14"};
}
static opt_spec spec_split(options *o)
{
    return (opt_spec){.name = "split", .kind = OPT_WORD, .value = &o->split, .words = split_words};
}
static opt_spec spec_cifar_split(options *o)
{
    return (opt_spec){
        .name = "split", .kind = OPT_WORD, .value = &o->split, .words = cifar_split_words};
}
static opt_spec spec_threads(options *o)
{
    return (opt_spec){.name = "threads", .kind = OPT_INT, .value = &o->threads, .lo = 1,
                      .hi = MYO_PF_MAX_THREADS};
}
/* --train, --validation, --test FILE (k: the split) */
static opt_spec spec_split_file(options *o, int k)
{
    return (opt_spec){.name = myo_split_name(k), .kind = OPT_TEXT, .value = &o->split_files[k]};
}
static opt_spec spec_imdb(options *o)
{
    return (opt_spec){.name = "imdb", .kind = OPT_TEXT, .value = &o->imdb};
}
static opt_spec spec_ordering(options *o)
{
    return (opt_spec){.name = "ordering", .kind = OPT_CUSTOM, .value = &o->ordering,
                      .given = &o->has_ordering, .parse = parse_ordering,
                      .expect = "morton, hilbert or raster"};
}
static opt_spec spec_output(options *o)
{
    return (opt_spec){.name = "output", .kind = OPT_TEXT, .value = &o->output, .letter = 'o'};
}
/* The operand (FILE, DIR). */
static opt_spec spec_input(options *o)
{
    return (opt_spec){.name = "FILE", .kind = OPT_OPERAND, .value = &o->input};
}

#define COUNT(specs) ((int)(sizeof specs / sizeof specs[0]))

/* Parse argv (argv[0] is the subcommand) against the subcommand's specs;
 * -o FILE is required when the table has it.  Returns 0 to go on, -1
 * after --help or --version, else an exit code. */
static int parse(int argc, char **argv, const opt_spec *specs, int count, options *o)
{
    const char *sub = argv[0];
    char msg[1024];
    switch (opt_parse(argc, argv, specs, count, msg, sizeof msg)) {
    case OPT_HELP:
        myo_data_help();
        return -1;
    case OPT_VERSION:
        myo_cli_print_version(TOOL);
        return -1;
    case OPT_BAD:
        return fail(MYO_EXIT_USAGE, 1, "%s: %s", sub, msg);
    }
    for (int k = 0; k < count; k++)
        if (specs[k].value == &o->output && !o->output)
            return fail(MYO_EXIT_USAGE, 1, "%s: missing -o FILE", sub);
    return MYO_EXIT_OK;
}

static int need_input(const char *sub, const options *o, const char *what)
{
    if (o->input) return MYO_EXIT_OK;
    return fail(MYO_EXIT_USAGE, 1, "%s: missing %s", sub, what);
}

/* After the call that made d returned s: write d to the output file and
 * say so on stdout, or report the failure (d is then empty). */
static int finish(const char *sub, myo_status s, myo_dataset *d, const char *output)
{
    if (s != MYO_OK) return fail_status(sub, s);
    s = myo_dataset_write(output, d);
    int code = MYO_EXIT_OK;
    if (s != MYO_OK)
        code = fail_status(sub, s);
    else
        printf("%s: %lld examples of task %s (%lld x %lld tokens) -> %s\n", sub,
               (long long)d->count, d->task, (long long)d->docs, (long long)d->n, output);
    myo_dataset_free(d);
    return code;
}

/* The side of a square image dataset, 0 when n is not a square. */
static int square_side(int64_t n)
{
    int64_t side = 1;
    while (side * side < n)
        side++;
    return side * side == n ? (int)side : 0;
}

/* finish, after writing d's raster pixels in --ordering's order when it
 * is given (as order does: the attribute "ordering" records it). */
static int finish_ordered(const char *sub, myo_status s, myo_dataset *d, const options *o)
{
    if (s == MYO_OK && o->has_ordering) {
        s = myo_dataset_reorder(d, o->ordering, square_side(d->n));
        if (s != MYO_OK) myo_dataset_free(d);
    }
    return finish(sub, s, d, o->output);
}

/* The CPUs this process may run on (its affinity mask: what a batch
 * system such as Slurm gives the job), else the online CPUs; 1 to
 * MYO_PF_MAX_THREADS. */
static int usable_cpus(void)
{
    long cpus = -1;
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
#endif
    if (cpus < 1) cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus < 1 ? 1 : cpus > MYO_PF_MAX_THREADS ? MYO_PF_MAX_THREADS : (int)cpus;
}

/* --size 32|128 and --difficulty (both required). */
static int size_difficulty(const char *sub, const options *o)
{
    if (!o->size) return fail(MYO_EXIT_USAGE, 1, "%s: missing --size 32|128", sub);
    if (o->size != 32 && o->size != 128)
        return fail(MYO_EXIT_USAGE, 1, "%s: --size %lld is neither 32 nor 128", sub,
                    (long long)o->size);
    if (!o->has_difficulty)
        return fail(MYO_EXIT_USAGE, 1, "%s: missing --difficulty easy|medium|hard", sub);
    return MYO_EXIT_OK;
}

/* ---------------------------------------------------------- subcommands */

static int cmd_listops(int argc, char **argv)
{
    options o;
    options_init(&o);
    const opt_spec specs[] = {spec_n(&o), spec_seed(&o), spec_length(&o), spec_output(&o)};
    int code = parse(argc, argv, specs, COUNT(specs), &o);
    if (code) return code < 0 ? MYO_EXIT_OK : code;
    if (!o.n) return fail(MYO_EXIT_USAGE, 1, "listops: missing --n N");
    myo_dataset d;
    memset(&d, 0, sizeof d);
    myo_status s = myo_listops_generate(NULL, (uint64_t)o.seed, o.n, o.length, &d);
    return finish("listops", s, &d, o.output);
}

static int cmd_pathfinder(int argc, char **argv)
{
    options o;
    options_init(&o);
    const opt_spec specs[] = {spec_n(&o),       spec_seed(&o),    spec_size(&o), spec_difficulty(&o),
                              spec_threads(&o), spec_ordering(&o), spec_output(&o)};
    int code = parse(argc, argv, specs, COUNT(specs), &o);
    if (code) return code < 0 ? MYO_EXIT_OK : code;
    if ((code = size_difficulty("pathfinder", &o))) return code;
    if (!o.n) return fail(MYO_EXIT_USAGE, 1, "pathfinder: missing --n N");
    /* the bytes do not depend on it */
    int threads = o.threads ? (int)o.threads : usable_cpus();
    myo_pf_params p;
    myo_status s = myo_pf_params_lra((int)o.size, o.difficulty, &p);
    myo_dataset d;
    memset(&d, 0, sizeof d);
    if (s == MYO_OK) s = myo_pf_generate_threads(&p, o.n, (uint64_t)o.seed, threads, &d);
    return finish_ordered("pathfinder", s, &d, &o);
}

static int cmd_pathfinder_load(int argc, char **argv)
{
    options o;
    options_init(&o);
    const opt_spec specs[] = {spec_input(&o),      spec_n(&o),        spec_size(&o),
                              spec_difficulty(&o), spec_ordering(&o), spec_output(&o)};
    int code = parse(argc, argv, specs, COUNT(specs), &o);
    if (code) return code < 0 ? MYO_EXIT_OK : code;
    if ((code = need_input(argv[0], &o, "DIR (lra_release or pathfinderSIZE)"))) return code;
    if ((code = size_difficulty("pathfinder-load", &o))) return code;
    /* DIR/pathfinderSIZE when it exists, else DIR itself. */
    size_t len = strlen(o.input) + 32;
    char *root = malloc(len);
    if (!root) return fail(MYO_EXIT_INTERNAL, 0, "pathfinder-load: out of memory");
    snprintf(root, len, "%s/pathfinder%lld", o.input, (long long)o.size);
    struct stat st;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) snprintf(root, len, "%s", o.input);
    myo_dataset d;
    memset(&d, 0, sizeof d);
    myo_status s = myo_pf_load(root, myo_pf_difficulty_dir(o.difficulty), o.n, &d);
    if (s != MYO_OK) {
        code = fail_status("pathfinder-load", s);
    } else if (d.n != o.size * o.size) {
        code = fail(MYO_EXIT_DATA, 0, "pathfinder-load: %s: images have %lld pixels, not %lldx%lld",
                    root, (long long)d.n, (long long)o.size, (long long)o.size);
        myo_dataset_free(&d);
    }
    free(root);
    if (code) return code;
    return finish_ordered("pathfinder-load", MYO_OK, &d, &o);
}

static int cmd_cifar(int argc, char **argv)
{
    options o;
    options_init(&o);
    const opt_spec specs[] = {spec_input(&o), spec_cifar_split(&o), spec_ordering(&o),
                              spec_output(&o)};
    int code = parse(argc, argv, specs, COUNT(specs), &o);
    if (code) return code < 0 ? MYO_EXIT_OK : code;
    if ((code = need_input(argv[0], &o, "DIR (cifar-10-batches-bin)"))) return code;
    myo_dataset d;
    memset(&d, 0, sizeof d);
    myo_status s = myo_cifar10_load(o.input, cifar_split_words[o.split < 0 ? 0 : o.split], &d);
    return finish_ordered("cifar", s, &d, &o);
}

static int cmd_fashion_mnist(int argc, char **argv)
{
    options o;
    options_init(&o);
    const opt_spec specs[] = {spec_input(&o), spec_ordering(&o), spec_output(&o)};
    int code = parse(argc, argv, specs, COUNT(specs), &o);
    if (code) return code < 0 ? MYO_EXIT_OK : code;
    myo_dataset d;
    memset(&d, 0, sizeof d);
    myo_status s = myo_fashion_mnist_load(o.input ? o.input : MYO_FMNIST_DIR, &d);
    return finish_ordered("fashion-mnist", s, &d, &o);
}

static int cmd_listops_load(int argc, char **argv)
{
    options o;
    options_init(&o);
    const opt_spec specs[] = {spec_input(&o),         spec_length(&o),        spec_split_file(&o, 0),
                              spec_split_file(&o, 1), spec_split_file(&o, 2), spec_output(&o)};
    int code = parse(argc, argv, specs, COUNT(specs), &o);
    if (code) return code < 0 ? MYO_EXIT_OK : code;
    int given = !!o.split_files[0] + !!o.split_files[1] + !!o.split_files[2];
    if (given && o.input)
        return fail(MYO_EXIT_USAGE, 1, "listops-load: give FILE.tsv or --train, --validation and "
                                       "--test, not both");
    if (given && given < MYO_SPLITS)
        return fail(MYO_EXIT_USAGE, 1, "listops-load: --train, --validation and --test go together");
    if (!given && (code = need_input(argv[0], &o, "FILE.tsv (or --train, --validation, --test)")))
        return code;
    myo_dataset d;
    memset(&d, 0, sizeof d);
    myo_status s = given ? myo_listops_load_splits(o.split_files, o.length, &d)
                         : myo_listops_load(o.input, o.length, &d);
    return finish("listops-load", s, &d, o.output);
}

static int cmd_text(int argc, char **argv)
{
    options o;
    options_init(&o);
    const opt_spec specs[] = {spec_input(&o), spec_length(&o), spec_imdb(&o), spec_split(&o),
                              spec_output(&o)};
    int code = parse(argc, argv, specs, COUNT(specs), &o);
    if (code) return code < 0 ? MYO_EXIT_OK : code;
    if (!o.imdb && !o.input) return fail(MYO_EXIT_USAGE, 1, "text: missing DIR or --imdb DIR");
    if (o.imdb && o.input) return fail(MYO_EXIT_USAGE, 1, "text: give DIR or --imdb DIR, not both");
    if (o.split >= 0 && !o.imdb) return fail(MYO_EXIT_USAGE, 1, "text: --split needs --imdb DIR");
    int64_t n = o.length ? o.length : MYO_TEXT_N;
    myo_dataset d;
    memset(&d, 0, sizeof d);
    myo_status s = o.imdb ? myo_imdb_load(o.imdb, split_words[o.split < 0 ? 0 : o.split], n, &d)
                          : myo_text_load_dir(o.input, NULL, 0, n, &d);
    return finish("text", s, &d, o.output);
}

static int cmd_retrieval(int argc, char **argv)
{
    options o;
    options_init(&o);
    const opt_spec specs[] = {spec_input(&o), spec_length(&o), spec_output(&o)};
    int code = parse(argc, argv, specs, COUNT(specs), &o);
    if (code) return code < 0 ? MYO_EXIT_OK : code;
    if ((code = need_input(argv[0], &o, "FILE.tsv"))) return code;
    myo_dataset d;
    memset(&d, 0, sizeof d);
    myo_status s = myo_aan_load_tsv(o.input, o.length ? o.length : MYO_RETRIEVAL_N, &d);
    return finish("retrieval", s, &d, o.output);
}

static int cmd_order(int argc, char **argv)
{
    options o;
    options_init(&o);
    const opt_spec specs[] = {spec_input(&o), spec_ordering(&o), spec_output(&o)};
    int code = parse(argc, argv, specs, COUNT(specs), &o);
    if (code) return code < 0 ? MYO_EXIT_OK : code;
    if ((code = need_input(argv[0], &o, "FILE (a dataset file)"))) return code;
    if (!o.has_ordering) return fail(MYO_EXIT_USAGE, 1, "order: missing --ordering");
    myo_ordering want = o.ordering, have = MYO_ORDER_RASTER;
    myo_dataset d;
    myo_status s = myo_dataset_read(o.input, &d);
    if (s != MYO_OK) return fail_status("order", s);
    int side = square_side(d.n);
    const char *prev = myo_dataset_get_attr(&d, "ordering");
    if (d.docs != 1 || d.parents || !side)
        code = fail(MYO_EXIT_DATA, 0,
                    "order: %s: not an image dataset (task %s, %lld documents of %lld tokens%s)",
                    o.input, d.task, (long long)d.docs, (long long)d.n,
                    d.parents ? ", parse trees" : "");
    else if (prev && myo_ordering_parse(prev, &have) != MYO_OK)
        code = fail(MYO_EXIT_DATA, 0, "order: %s: unknown ordering attribute '%s'", o.input, prev);
    /* Undo the file's ordering first: the result is always want applied
     * to the raster image. */
    if (!code && have != MYO_ORDER_RASTER) {
        int32_t *perm = malloc((size_t)d.n * sizeof *perm);
        int32_t *inv = malloc((size_t)d.n * sizeof *inv);
        s = perm && inv ? myo_ordering_perm(have, side, perm) : MYO_ERR_NOMEM;
        if (s == MYO_OK) s = myo_perm_inverse(perm, d.n, inv);
        if (s == MYO_OK) s = myo_dataset_permute(&d, inv);
        free(perm);
        free(inv);
        if (s != MYO_OK) code = fail_status("order", s);
    }
    if (!code) {
        s = myo_dataset_reorder(&d, want, side);
        if (s != MYO_OK) code = fail_status("order", s);
    }
    if (code) {
        myo_dataset_free(&d);
        return code;
    }
    return finish("order", MYO_OK, &d, o.output);
}

/* --------------------------------------------------------------- inspect */

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Which ids of [0, vocab) occur: a byte per id when vocab is at most
 * DENSE_IDS, else a hash set of the ids seen (open addressing, id + 1 per
 * slot, 0 empty, doubled at half load): a huge vocabulary costs memory for
 * the ids a file holds only. */
enum { DENSE_IDS = 1 << 24 };
typedef struct {
    int64_t vocab;
    unsigned char *seen; /* dense: vocab bytes */
    uint32_t *slot;      /* sparse: cap slots */
    size_t cap;
    int64_t distinct; /* ids seen */
} id_tally;

static int tally_init(id_tally *t, int64_t vocab)
{
    memset(t, 0, sizeof *t);
    t->vocab = vocab;
    if (vocab <= DENSE_IDS) {
        t->seen = calloc((size_t)vocab, 1);
        return t->seen ? 0 : -1;
    }
    t->cap = 1024;
    t->slot = calloc(t->cap, sizeof *t->slot);
    return t->slot ? 0 : -1;
}

static size_t tally_probe(const uint32_t *slot, size_t cap, uint32_t key)
{
    size_t h = (size_t)(key * 2654435761u) & (cap - 1);
    while (slot[h] && slot[h] != key)
        h = (h + 1) & (cap - 1);
    return h;
}

/* Count id (in [0, vocab)): 0, or -1 out of memory. */
static int tally_add(id_tally *t, int32_t id)
{
    if (t->seen) {
        t->distinct += !t->seen[id];
        t->seen[id] = 1;
        return 0;
    }
    uint32_t key = (uint32_t)id + 1;
    size_t h = tally_probe(t->slot, t->cap, key);
    if (t->slot[h]) return 0;
    if ((size_t)(t->distinct + 1) * 2 > t->cap) { /* grow, then place key */
        size_t cap = 2 * t->cap;
        uint32_t *slot = calloc(cap, sizeof *slot);
        if (!slot) return -1;
        for (size_t k = 0; k < t->cap; k++)
            if (t->slot[k]) slot[tally_probe(slot, cap, t->slot[k])] = t->slot[k];
        free(t->slot);
        t->slot = slot, t->cap = cap;
        h = tally_probe(slot, cap, key);
    }
    t->slot[h] = key;
    t->distinct++;
    return 0;
}

static int tally_seen(const id_tally *t, int64_t id)
{
    if (t->seen) return t->seen[id];
    return t->slot[tally_probe(t->slot, t->cap, (uint32_t)id + 1)] != 0;
}

static void tally_free(id_tally *t)
{
    free(t->seen);
    free(t->slot);
}

/* At most this many labels are listed (then "... and K more"). */
enum { LABELS_SHOWN = 16 };

/* The label distribution from the sorted labels of E examples, on a line
 * that title starts: every class when there are at most LABELS_SHOWN, else
 * the first LABELS_SHOWN labels that occur and how many more do. */
static void print_labels(const char *title, const int32_t *sorted, int64_t E, int64_t classes)
{
    int64_t distinct = 0, shown = 0;
    printf("%-11s", title);
    for (int64_t e = 0, c = 0; e < E || (classes <= LABELS_SHOWN && c < classes); c++) {
        if (classes > LABELS_SHOWN) c = sorted[e]; /* only the labels that occur */
        int64_t count = 0;
        while (e < E && sorted[e] == c)
            e++, count++;
        distinct += count > 0;
        if (shown++ < LABELS_SHOWN)
            printf(" %lld: %lld (%.1f%%)", (long long)c, (long long)count,
                   E ? 100.0 * (double)count / (double)E : 0.0);
    }
    if (distinct > LABELS_SHOWN) printf(" ... and %lld more", (long long)(distinct - LABELS_SHOWN));
    if (classes > LABELS_SHOWN)
        printf("; %lld of %lld classes occur", (long long)distinct, (long long)classes);
    printf("\n");
}

static int cmd_inspect(int argc, char **argv)
{
    options o;
    options_init(&o);
    const opt_spec specs[] = {spec_input(&o)};
    int code = parse(argc, argv, specs, COUNT(specs), &o);
    if (code) return code < 0 ? MYO_EXIT_OK : code;
    if ((code = need_input(argv[0], &o, "FILE"))) return code;
    myo_dataset info;
    int has_parents = 0;
    myo_status s = myo_dataset_read_info(o.input, &info, &has_parents);
    if (s != MYO_OK) return fail_status("inspect", s);
    const int64_t E = info.count, G = info.docs, n = info.n;
    /* memory in proportion to the file's examples, never to vocab or
     * classes */
    id_tally ids;
    int32_t *labels = malloc((size_t)(E > 0 ? E : 1) * sizeof *labels);
    int32_t *lengths = malloc((size_t)(E * G > 0 ? E * G : 1) * sizeof *lengths);
    int nomem = tally_init(&ids, info.vocab) < 0 || !labels || !lengths;
    int64_t tokens = 0;
    /* Slices of the file, so that big files need little memory. */
    const int64_t chunk = 256;
    for (int64_t first = 0; first < E && s == MYO_OK && !nomem; first += chunk) {
        myo_dataset d;
        int64_t count = E - first < chunk ? E - first : chunk;
        s = myo_dataset_read_range(o.input, first, count, &d);
        if (s != MYO_OK) break;
        for (int64_t e = 0; e < count && !nomem; e++) {
            labels[first + e] = d.labels[e];
            for (int64_t g = 0; g < G && !nomem; g++) {
                int32_t len = d.lengths[e * G + g];
                lengths[(first + e) * G + g] = len;
                tokens += len;
                for (int64_t i = 0; i < len && !nomem; i++)
                    nomem = tally_add(&ids, d.tokens[(e * G + g) * n + i]) < 0;
            }
        }
        myo_dataset_free(&d);
    }
    if (s != MYO_OK || nomem) {
        tally_free(&ids), free(labels), free(lengths);
        myo_dataset_free(&info);
        return nomem ? fail(MYO_EXIT_INTERNAL, 0, "inspect: out of memory")
                     : fail_status("inspect", s);
    }
    printf("file        %s\n", o.input);
    printf("format      %s\n", MYO_DATA_FORMAT);
    printf("task        %s\n", info.task);
    printf("source      %s\n", info.source);
    printf("examples    %lld\n", (long long)E);
    printf("documents   %lld per example\n", (long long)G);
    printf("length n    %lld tokens per document\n", (long long)n);
    printf("vocab       %lld\n", (long long)info.vocab);
    printf("classes     %lld\n", (long long)info.classes);
    printf("parents     %s\n", has_parents ? "yes (parse trees)" : "no");
    if (info.has_splits) {
        printf("splits     ");
        for (int k = 0; k < MYO_SPLITS; k++) {
            int64_t first = myo_dataset_split_first(&info, k), count = info.split_count[k];
            printf("%s %s %lld", k ? "," : "", myo_split_name(k), (long long)count);
            if (count > 0)
                printf(" (examples %lld..%lld)", (long long)first, (long long)(first + count - 1));
        }
        printf("\n");
    } else {
        printf("splits      none\n");
    }
    /* all the labels, then each split's (sorted in place: the splits are
     * consecutive runs of examples, and sorting the whole mixes them) */
    int32_t *sorted = malloc((size_t)(E > 0 ? E : 1) * sizeof *sorted);
    if (!sorted) {
        tally_free(&ids), free(labels), free(lengths);
        myo_dataset_free(&info);
        return fail(MYO_EXIT_INTERNAL, 0, "inspect: out of memory");
    }
    memcpy(sorted, labels, (size_t)E * sizeof *sorted);
    qsort(sorted, (size_t)E, sizeof *sorted, cmp_i32);
    print_labels("labels", sorted, E, info.classes);
    free(sorted);
    for (int k = 0; info.has_splits && k < MYO_SPLITS; k++) {
        int32_t *part = labels + myo_dataset_split_first(&info, k);
        char title[32];
        snprintf(title, sizeof title, "  %s", myo_split_name(k));
        qsort(part, (size_t)info.split_count[k], sizeof *part, cmp_i32);
        print_labels(title, part, info.split_count[k], info.classes);
    }
    int64_t m = E * G;
    if (m > 0) {
        double sum = 0;
        int64_t full = 0;
        for (int64_t k = 0; k < m; k++) {
            sum += lengths[k];
            full += lengths[k] == n;
        }
        qsort(lengths, (size_t)m, sizeof *lengths, cmp_i32);
        double median = m % 2 ? lengths[m / 2] : 0.5 * (lengths[m / 2 - 1] + lengths[m / 2]);
        printf("lengths     min %d  median %g  mean %.1f  max %d  (%lld of %lld documents fill "
               "all %lld tokens)\n",
               (int)lengths[0], median, sum / (double)m, (int)lengths[m - 1], (long long)full,
               (long long)m, (long long)n);
    } else {
        printf("lengths     (no documents)\n");
    }
    printf("vocab use   %lld of %lld ids in %lld tokens (padding excluded)",
           (long long)ids.distinct, (long long)info.vocab, (long long)tokens);
    if (info.vocab - ids.distinct > 0 && info.vocab - ids.distinct <= 16) {
        printf("; unused:");
        for (int64_t v = 0; v < info.vocab; v++)
            if (!tally_seen(&ids, v)) printf(" %lld", (long long)v);
    }
    printf("\n");
    printf("attributes  %d\n", info.nattrs);
    for (int k = 0; k < info.nattrs; k++)
        printf("  %s = %s\n", info.attr_key[k], info.attr_value[k]);
    if (info.skipped_attrs)
        printf("not kept    %d attribute%s (a name over %zu or a value over %zu characters, not "
               "one string or number, or beyond %d): %s\n",
               info.skipped_attrs, info.skipped_attrs == 1 ? "" : "s", sizeof info.attr_key[0] - 1,
               sizeof info.attr_value[0] - 1, MYO_DATA_MAX_ATTRS, info.skipped_names);
    tally_free(&ids), free(labels), free(lengths);
    myo_dataset_free(&info);
    return MYO_EXIT_OK;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } subs[] = {{"listops", cmd_listops},
                {"pathfinder", cmd_pathfinder},
                {"cifar", cmd_cifar},
                {"fashion-mnist", cmd_fashion_mnist},
                {"pathfinder-load", cmd_pathfinder_load},
                {"listops-load", cmd_listops_load},
                {"text", cmd_text},
                {"retrieval", cmd_retrieval},
                {"order", cmd_order},
                {"inspect", cmd_inspect}};
    myo_cli_ignore_sigxfsz();
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (!sub) return fail(MYO_EXIT_USAGE, 1, "missing subcommand");
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        myo_data_help();
        return MYO_EXIT_OK;
    }
    if (strcmp(sub, "--version") == 0 || strcmp(sub, "-V") == 0) {
        myo_cli_print_version(TOOL);
        return MYO_EXIT_OK;
    }
    for (size_t k = 0; k < sizeof subs / sizeof subs[0]; k++)
        if (strcmp(sub, subs[k].name) == 0) return subs[k].fn(argc - 1, argv + 1);
    return fail(MYO_EXIT_USAGE, 1, "unknown subcommand '%s'", sub);
}
