# lib/local.mk -- the library part of Makefile.am, included from it (an
# automake include: paths are relative to the top directory).  The folders,
# and what each may include, are in lib/README.md;
# tests/source/test_lib_layering.sh checks the rule.

# The public headers, installed under their own names; MYO_CPPFLAGS
# (Makefile.am) puts their folder on the path of everything that uses them.
include_HEADERS = \
	lib/include/myosotis.h \
	lib/include/myosotis_layer.h \
	lib/include/myosotis_attention.h \
	lib/include/myosotis_ssm.h \
	lib/include/myosotis_model.h \
	lib/include/myosotis_h5log.h \
	lib/include/myosotis_dist.h

# The library's own sources also see lib/, so that a private header of
# another folder is included by its folder ("core/core.h"), one of their
# own folder by its bare name.
MYO_LIB_CPPFLAGS = $(MYO_CPPFLAGS) -I$(top_srcdir)/lib

# libmyosotis.a: everything serial (core, tree, solve, mixers, model, io).
# None of its sources includes <mpi.h> and it references no MPI symbol.
lib_LIBRARIES = lib/libmyosotis.a
lib_libmyosotis_a_SOURCES = \
	lib/core/core.h \
	lib/core/mathfn.h \
	lib/core/status.c \
	lib/core/random.c \
	lib/tree/tree_internal.h \
	lib/tree/tree.c \
	lib/tree/tree_builders.c \
	lib/tree/tree_shape.c \
	lib/solve/solve_internal.h \
	lib/solve/solve.c \
	lib/solve/solve_kernels.h \
	lib/solve/solve_ref.c \
	lib/mixers/layer.c \
	lib/mixers/layer_kernels.h \
	lib/mixers/layer_ref.c \
	lib/mixers/attention.c \
	lib/mixers/attention_kernels.h \
	lib/mixers/attention_ref.c \
	lib/mixers/ssm.c \
	lib/mixers/ssm_ref.c \
	lib/model/model.c \
	lib/model/model_ref.c \
	lib/model/model_ref.h \
	lib/model/schedule.c \
	lib/io/system_io.c \
	lib/io/h5log.c \
	lib/io/h5util.c \
	lib/io/h5util.h \
	lib/io/file_guard.c \
	lib/io/file_guard.h
lib_libmyosotis_a_CPPFLAGS = $(MYO_LIB_CPPFLAGS) $(HDF5_CFLAGS) $(BLAS_CFLAGS)
lib_libmyosotis_a_CFLAGS = $(AM_CFLAGS) $(MYO_KERNEL_CFLAGS)

# libmyosotis_mpi.a: the distributed code (myosotis_dist.h), on top of
# libmyosotis.a; the only folder whose sources include <mpi.h>.
lib_LIBRARIES += lib/libmyosotis_mpi.a
lib_libmyosotis_mpi_a_SOURCES = \
	lib/dist/dist_scan.c \
	lib/dist/dist_partition.c \
	lib/dist/dist_solve.c \
	lib/dist/dist_layer.c \
	lib/dist/ring_attention.c \
	lib/dist/mpi_util.c \
	lib/dist/mpi_util.h
# dist_layer.c runs the layer's kernels (lib/mixers/layer_kernels.h: cblas.h)
lib_libmyosotis_mpi_a_CPPFLAGS = $(MYO_LIB_CPPFLAGS) $(BLAS_CFLAGS)
lib_libmyosotis_mpi_a_CFLAGS = $(AM_CFLAGS) $(MYO_KERNEL_CFLAGS)

EXTRA_DIST += lib/README.md

# What a program linking the libraries needs: MYO_SERIAL_LIBS for one that
# calls no myo_dist / ring / distributed scan function, MYO_LIBS (the MPI
# library first, the serial one after it) for the rest.
MYO_SERIAL_LIBS = lib/libmyosotis.a $(HDF5_LIBS) $(BLAS_LIBS)
MYO_LIBS = lib/libmyosotis_mpi.a $(MYO_SERIAL_LIBS)
