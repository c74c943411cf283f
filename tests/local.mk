# tests/local.mk -- the tests' part of Makefile.am, included from it (an
# automake include: paths are relative to the top directory).  The folders
# of tests/, and what goes in each, are in tests/README.md.
#
# A CMocka test program tests/<folder>/test_<x> is built from
# tests/<folder>/test_<x>.c (automake's default source) with AM_CPPFLAGS and
# its folder's link line (below): its name in its folder's list is all it
# needs.  The shell tests (tests/<folder>/test_<x>.sh) and the .mpi lists
# are run by the log compilers below, and shipped through EXTRA_DIST.
#
# The lists, the fixtures and EXTRA_DIST are unconditional (automake wants
# TEST_EXTENSIONS so, and make dist ships the tests in either configuration);
# only what builds and runs them is under ENABLE_TESTS (configure
# --disable-tests).

TEST_EXTENSIONS = .mpi .sh

# The CMocka programs' preprocessor flags.  Every library and driver names
# its own _CPPFLAGS, so the default, AM_CPPFLAGS, is the tests' alone: the
# helpers of tests/support by their bare names ("support.h"), the public
# headers and lib/ (MYO_LIB_CPPFLAGS, lib/local.mk: test_model.c's
# "model/model_ref.h"), and datasets/ for the tests of its code (zlib for
# the IDX files tests/support/idx_fixture.h writes).
AM_CPPFLAGS = $(MYO_LIB_CPPFLAGS) -I$(top_srcdir)/tests/support $(CMOCKA_CFLAGS) $(HDF5_CFLAGS) \
	-I$(top_srcdir)/datasets $(ZLIB_CFLAGS)

# ------------------------------------------------------------ tests/support
# What the tests share: libsupport.a (random trees, oracles, tolerances,
# running a tool), the fixtures, the shell tests' library, the log
# compiler of the .mpi tests and the reader of myo-bench's results files.
noinst_HEADERS = tests/support/h5_fixture.h tests/support/data_fixture.h \
	tests/support/idx_fixture.h
EXTRA_DIST += tests/support/driver-test-lib.sh tests/support/mpi-run.sh \
	tests/support/myo_bench_check.py tests/README.md

# The link lines: TEST_LDADD has the serial library alone, TEST_MPI_LDADD
# the distributed one before it.
TEST_LDADD = tests/support/libsupport.a $(MYO_SERIAL_LIBS) $(CMOCKA_LIBS) $(LAPACKE_LIBS) $(KLU_LIBS)
TEST_MPI_LDADD = tests/support/libsupport.a $(MYO_LIBS) $(CMOCKA_LIBS) $(LAPACKE_LIBS) $(KLU_LIBS)

# --------------------------------------------------------------- tests/unit
# The serial tests of lib/, one program per module; the default link line
# (LDADD: the serial library alone).
UNIT_TESTS = \
	tests/unit/test_status \
	tests/unit/test_tree \
	tests/unit/test_solve \
	tests/unit/test_system_io \
	tests/unit/test_h5log \
	tests/unit/test_layer \
	tests/unit/test_attention \
	tests/unit/test_ssm \
	tests/unit/test_model \
	tests/unit/test_cost \
	tests/unit/test_dist_partition \
	tests/unit/test_options

# ---------------------------------------------------------------- tests/mpi
# Tests of MPI code: tests/mpi/test_<x>.mpi (a few lines) names the program
# tests/mpi/test_<x> and the rank counts; make check runs it under mpiexec
# once per count through tests/support/mpi-run.sh, which fails when any
# count fails and says which.  The programs link the distributed library.
MPI_TESTS = \
	tests/mpi/test_dist_scan.mpi \
	tests/mpi/test_ring_attention.mpi \
	tests/mpi/test_dist_solve.mpi \
	tests/mpi/test_dist_layer.mpi
EXTRA_DIST += $(MPI_TESTS)

# --------------------------------------------------------------- tests/data
# The tests of datasets/ code; they link datasets/libmyodata.a.
DATA_TESTS = \
	tests/data/test_dataset_file \
	tests/data/test_dataset_fuzz \
	tests/data/test_listops \
	tests/data/test_images \
	tests/data/test_orderings \
	tests/data/test_text \
	tests/data/test_pathfinder \
	tests/data/test_idx

# -------------------------------------------------------------- tests/tools
# The installed programs and scripts end to end, run from the build tree
# (AM_TESTS_ENVIRONMENT below).  CMocka programs that run a tool, with the
# default link line (test_myo_solve_mpi, a serial test, runs myo-solve under
# configure's MPIEXEC and MPIEXEC_FLAGS itself, mpiexec -n P) ...
TOOL_TESTS = \
	tests/tools/test_myo_solve \
	tests/tools/test_myo_solve_mpi \
	tests/tools/test_myo_system
# ... and shell scripts that run the built tools under $(MPIEXEC)
# themselves (sharing tests/support/driver-test-lib.sh).
TOOL_SH_TESTS = \
	tests/tools/test_myo_bench_kernels.sh \
	tests/tools/test_myo_lra.sh \
	tests/tools/test_myo_bench.sh \
	tests/tools/test_myo_data.sh \
	tests/tools/test_myo_train.sh
# jobs/ on a single-node Slurm cluster started by the test (skipped, exit 77,
# without slurm-wlm and munge or root)
TOOL_SH_TESTS += tests/tools/test_jobs.sh
# the training campaign's job scripts without Slurm (stand-ins for the drivers)
TOOL_SH_TESTS += tests/tools/test_train_jobs.sh
# myo-report on the results of a real small run (built by make all)
TOOL_SH_TESTS += tests/tools/test_analysis.sh
EXTRA_DIST += $(TOOL_SH_TESTS)

# ------------------------------------------------------------- tests/source
# Checks of the source tree itself (shell scripts).
# the sources cite only documents they ship (docs/)
SOURCE_TESTS = tests/source/test_standalone.sh
# the serial public headers need neither MPI nor HDF5
SOURCE_TESTS += tests/source/test_headers.sh
# lib/'s folders keep their layers, and the serial library needs no MPI
SOURCE_TESTS += tests/source/test_lib_layering.sh
EXTRA_DIST += $(SOURCE_TESTS)

if ENABLE_TESTS
check_LIBRARIES = tests/support/libsupport.a
tests_support_libsupport_a_SOURCES = tests/support/support.c tests/support/support.h
tests_support_libsupport_a_CPPFLAGS = $(MYO_CPPFLAGS) $(CMOCKA_CFLAGS) $(LAPACKE_CFLAGS) $(KLU_CFLAGS) $(HDF5_CFLAGS)

# Each folder's link line: LDADD (tests/unit, tests/tools) for every
# program that names none; the programs of tests/mpi and tests/data get
# their folder's as a target-specific LDADD (GNU make, as the retired
# stubs' "instead" in drivers/local.mk), with the library it adds as a
# prerequisite (automake derives a program's dependencies from LDADD).
LDADD = $(TEST_LDADD)
MPI_TEST_PROGS = $(MPI_TESTS:.mpi=)
MPI_TEST_TARGETS = $(MPI_TESTS:.mpi=$(EXEEXT))
$(MPI_TEST_TARGETS): LDADD = $(TEST_MPI_LDADD)
$(MPI_TEST_TARGETS): lib/libmyosotis_mpi.a
DATA_TEST_TARGETS = $(DATA_TESTS:=$(EXEEXT))
$(DATA_TEST_TARGETS): LDADD = $(MYODATA_LIBS) $(TEST_LDADD)
$(DATA_TEST_TARGETS): datasets/libmyodata.a
# The one serial test of the distributed functions (their partitioners).
tests_unit_test_dist_partition_LDADD = $(TEST_MPI_LDADD)
# The tools' command-line vocabulary (drivers/options.c, in libcli).
tests_unit_test_options_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/drivers
tests_unit_test_options_LDADD = drivers/libcli.a $(LDADD)

check_PROGRAMS = $(UNIT_TESTS) $(DATA_TESTS) $(TOOL_TESTS) $(MPI_TEST_PROGS)
TESTS = $(UNIT_TESTS) $(DATA_TESTS) $(TOOL_TESTS) $(MPI_TESTS) $(TOOL_SH_TESTS) $(SOURCE_TESTS)
MPI_LOG_COMPILER = $(SHELL) $(top_srcdir)/tests/support/mpi-run.sh
AM_MPI_LOG_FLAGS = --builddir '$(top_builddir)' --mpiexec '$(MPIEXEC)' --flags '$(MPIEXEC_FLAGS)'
SH_LOG_COMPILER = $(SHELL)

# The end-to-end tests run the installed-to-be binaries from the build tree
# (MYO_BINDIR, MYO_REPORT), under configure's MPIEXEC and MPIEXEC_FLAGS
# (MYO_MPIEXEC, MYO_MPIEXEC_FLAGS); the checks of the source tree get the
# preprocessor, the compiler, the serial library's flags and the built lib/.
AM_TESTS_ENVIRONMENT = \
	MYO_BINDIR='$(abs_top_builddir)/drivers'; export MYO_BINDIR; \
	MYO_MPIEXEC='$(MPIEXEC)'; export MYO_MPIEXEC; \
	MYO_MPIEXEC_FLAGS='$(MPIEXEC_FLAGS)'; export MYO_MPIEXEC_FLAGS; \
	OPENBLAS_NUM_THREADS=1; export OPENBLAS_NUM_THREADS; \
	MYO_PYTHON='$(MYO_PYTHON)'; export MYO_PYTHON; \
	MYO_CPP='$(CPP)'; export MYO_CPP; \
	MYO_CC='$(CC)'; export MYO_CC; \
	MYO_SERIAL_CPPFLAGS='$(DEFS) $(DEFAULT_INCLUDES) $(lib_libmyosotis_a_CPPFLAGS) $(CPPFLAGS)'; \
	export MYO_SERIAL_CPPFLAGS; \
	MYO_LIBDIR='$(abs_top_builddir)/lib'; export MYO_LIBDIR; \
	MYO_REPORT='$(abs_top_builddir)/analysis/myo-report'; export MYO_REPORT;
else
check-local:
	@echo "make check: the tests were disabled at configure time (--disable-tests); reconfigure without it" >&2; exit 1
endif
