# analysis/local.mk -- the analysis part of Makefile.am, included from it
# (an automake include: paths are relative to the top directory).

# myo-report (README.md, "Analysis: myo-report"): a Python script whose #!
# line is configure's MYO_PYTHON, a python3 that imports numpy, h5py and
# matplotlib (the python3 first on PATH may not see the distribution's).
bin_SCRIPTS += analysis/myo-report
CLEANFILES += analysis/myo-report
EXTRA_DIST += analysis/myo-report.in analysis/examples/time_vs_n.png
analysis/myo-report: $(srcdir)/analysis/myo-report.in Makefile
	$(AM_V_GEN)$(MKDIR_P) analysis && rm -f $@ $@.tmp && \
	sed -e 's|@MYO_PYTHON[@]|$(MYO_PYTHON)|g' -e 's|@PACKAGE_VERSION[@]|$(PACKAGE_VERSION)|g' \
	    $(srcdir)/analysis/myo-report.in >$@.tmp && chmod +x $@.tmp && mv $@.tmp $@
