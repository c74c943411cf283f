# datasets/local.mk -- the datasets part of Makefile.am, included from it
# (an automake include: paths are relative to the top directory).

# The LRA generators and loaders (C), linked by myo-data, myo-lra and the
# tests of tests/data.
noinst_LIBRARIES += datasets/libmyodata.a
datasets_libmyodata_a_SOURCES = \
	datasets/myo_data.h \
	datasets/dataset_file.c \
	datasets/dataset_file.h \
	datasets/h5_header_check.c \
	datasets/h5_header_check.h \
	datasets/listops.c \
	datasets/listops.h \
	datasets/images.c \
	datasets/images.h \
	datasets/orderings.c \
	datasets/orderings.h \
	datasets/text.c \
	datasets/text.h \
	datasets/png_io.c \
	datasets/png_io.h \
	datasets/pathfinder.c \
	datasets/pathfinder.h \
	datasets/idx.c \
	datasets/idx.h
# MYO_LIB_CPPFLAGS (lib/local.mk): h5_header_check.c uses "io/h5util.h".
datasets_libmyodata_a_CPPFLAGS = $(MYO_LIB_CPPFLAGS) -I$(top_srcdir)/datasets $(HDF5_CFLAGS) \
	$(PNG_CFLAGS) $(ZLIB_CFLAGS)
# What a program linking datasets/libmyodata.a needs (png_io.c uses libpng,
# idx.c zlib; pathfinder.c's threads come with LIBS, configure.ac).
MYODATA_LIBS = datasets/libmyodata.a $(PNG_LIBS) $(ZLIB_LIBS)
