# drivers/local.mk -- the programs' part of Makefile.am, included from it
# (an automake include: paths are relative to the top directory): the
# installed tools, the retired benchmarks' stubs and the demo.

noinst_LIBRARIES += drivers/libcli.a
# bench.c: what the benchmark drivers share (the '#' header, MPI helpers,
# statistics, cache eviction, memory queries); mpicc finds mpi.h.
drivers_libcli_a_SOURCES = drivers/cli.c drivers/cli.h drivers/options.c drivers/options.h \
	drivers/bench.c drivers/bench.h \
	drivers/run_meta.c drivers/run_meta.h drivers/sweep.c drivers/sweep.h
# run_meta.c records the HDF5 library's version.
drivers_libcli_a_CPPFLAGS = $(MYO_CPPFLAGS) $(HDF5_CFLAGS)

bin_PROGRAMS = drivers/myo-solve drivers/myo-system drivers/myo-lra drivers/myo-bench drivers/myo-data \
	drivers/myo-train
drivers_myo_solve_SOURCES = drivers/myo_solve.c
drivers_myo_solve_CPPFLAGS = $(MYO_CPPFLAGS)
drivers_myo_solve_LDADD = drivers/libcli.a $(MYO_LIBS)
drivers_myo_system_SOURCES = drivers/myo_system.c
drivers_myo_system_CPPFLAGS = $(MYO_CPPFLAGS)
drivers_myo_system_LDADD = drivers/libcli.a $(MYO_LIBS)
# myo-lra: LRA-style training and inference steps (lib/model/model.c), HDF5 results
drivers_myo_lra_SOURCES = drivers/myo_lra.c drivers/lra_task.c drivers/lra_task.h
drivers_myo_lra_CPPFLAGS = $(MYO_CPPFLAGS) -I$(top_srcdir)/datasets
drivers_myo_lra_LDADD = drivers/libcli.a $(MYODATA_LIBS) $(MYO_LIBS)
# myo-train: training to a measured accuracy (README.md, "myo-train"): the
# task presets and data agreement it shares with myo-lra, its checkpoints
drivers_myo_train_SOURCES = drivers/myo_train.c drivers/lra_task.c drivers/lra_task.h \
	drivers/train_checkpoint.c drivers/train_checkpoint.h
drivers_myo_train_CPPFLAGS = $(MYO_CPPFLAGS) -I$(top_srcdir)/datasets $(HDF5_CFLAGS)
drivers_myo_train_LDADD = drivers/libcli.a $(MYODATA_LIBS) $(MYO_LIBS)
# myo-bench: kernel and layer scaling sweeps, HDF5 results (README.md, "myo-bench")
# (the harness, its kernels, and the PMPI wrappers that count a pass's MPI calls)
drivers_myo_bench_SOURCES = drivers/myo_bench.c drivers/bench_kernel.h drivers/bench_kernels.c \
	drivers/bench_yardsticks.c drivers/mpi_count.c drivers/mpi_count.h
drivers_myo_bench_CPPFLAGS = $(MYO_CPPFLAGS) $(LAPACKE_CFLAGS)
drivers_myo_bench_CFLAGS = $(AM_CFLAGS) $(MYO_KERNEL_CFLAGS)
drivers_myo_bench_LDADD = drivers/libcli.a $(MYO_LIBS) $(LAPACKE_LIBS)
# myo-data: make, load, reorder and inspect LRA dataset files (README.md, "myo-data")
drivers_myo_data_SOURCES = drivers/myo_data.c
drivers_myo_data_CPPFLAGS = $(MYO_CPPFLAGS) -I$(top_srcdir)/datasets
drivers_myo_data_LDADD = $(MYODATA_LIBS) drivers/libcli.a $(MYO_LIBS)

# The benchmarks myo-bench replaced, kept one release as stubs that say
# where their measurements went (drivers/retired.in) and exit with status 2.
RETIRED = drivers/myo-bench-solve drivers/myo-bench-layer drivers/myo-bench-dist
bin_SCRIPTS += $(RETIRED)
CLEANFILES += $(RETIRED)
EXTRA_DIST += drivers/retired.in
drivers/myo-bench-solve: instead = myo-bench --method solve,solve-only,memcpy,lapack-pt --mode data --tree chain,kary
drivers/myo-bench-layer: instead = myo-bench --method myosotis,dense-tiled,dense-materialized,ssm --mode data [--mask causal] (the columns proj_ms, mix_ms split projections and mixing)
drivers/myo-bench-dist: instead = mpirun -np P myo-bench --method myosotis,solve --mode sequence,local (local: the same work without messages; the columns msgs, MiB_sent, colls count them)
$(RETIRED): $(srcdir)/drivers/retired.in Makefile
	$(AM_V_GEN)$(MKDIR_P) drivers && rm -f $@ $@.tmp && \
	sed -e 's|@TOOL[@]|$(@F)|g' -e 's|@INSTEAD[@]|$(instead)|g' $(srcdir)/drivers/retired.in >$@.tmp && \
	chmod +x $@.tmp && mv $@.tmp $@

# The suite's main job for now: generate systems, solve them with myo-solve
# and check the residuals (README.md, first command).
demo: $(bin_PROGRAMS)
	$(SHELL) $(top_srcdir)/drivers/demo.sh $(top_builddir)/drivers
.PHONY: demo
EXTRA_DIST += drivers/demo.sh
