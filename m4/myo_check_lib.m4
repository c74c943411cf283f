# myo_check_lib.m4 -- find a library with pkg-config, then check that its
# header compiles and a program using it links.               -*- Autoconf -*-

# MYO_CHECK_LIB(NAME, TITLE, MODULES, PACKAGE, [HEADER], [PROGRAM-BODY],
#               [ALSO], [IF-NOT-FOUND], [HEADER-ERROR], [LINK-TITLE],
#               [LINK-ERROR])
# ------------------------------------------------------------------------
# Set and substitute NAME_CFLAGS and NAME_LIBS (PKG_CHECK_MODULES: a user
# who sets both skips pkg-config) from the first of the pkg-config MODULES
# (an m4 list, tried in order, each as PKG_CHECK_MODULES takes it) that is
# found.  None found: run IF-NOT-FOUND, by default stop with
#   TITLE not found by pkg-config (module(s) MODULES): install PACKAGE, or
#   set NAME_CFLAGS and NAME_LIBS
# (MODULES there without their version constraints).
# With a HEADER, then, with NAME_CFLAGS and NAME_LIBS (and the _CFLAGS and
# _LIBS of the names in the m4 list ALSO, after them) added to CPPFLAGS and
# LIBS for the checks only: AC_CHECK_HEADER(HEADER), and a program that
# includes HEADER and runs PROGRAM-BODY must link ("checking that TITLE
# links", LINK-TITLE in place of TITLE if given).  Failures stop configure
# with HEADER-ERROR, by default
#   HEADER not usable with NAME_CFLAGS='...': install PACKAGE
# and LINK-ERROR, by default
#   cannot link TITLE with NAME_LIBS='...': install PACKAGE
#
# A plain m4 macro, not AC_DEFUN: AC_CHECK_HEADER's own requirements (the
# checks for the standard headers) then run just before the first header
# check, with that library's flags, as they did before the macro existed,
# where AC_DEFUN would hoist them above the whole first MYO_CHECK_LIB.  So
# aclocal does not pick this file up: configure.ac includes it (m4_include,
# before AC_INIT, where these comments are not copied into configure).
m4_define([MYO_CHECK_LIB],
[_MYO_CHECK_LIB_PKG([$1],
  [m4_default([$8],
    [AC_MSG_ERROR([$2 not found by pkg-config (m4_if(m4_count($3), [1], [module], [modules]) _MYO_CHECK_LIB_NAMES($3)): install $4, or set $1_CFLAGS and $1_LIBS])])],
  $3)m4_ifval([$5], [
save_CPPFLAGS="$CPPFLAGS"; save_LIBS="$LIBS"
CPPFLAGS="$CPPFLAGS $$1_CFLAGS[]m4_ifval([$7], [m4_map_args_sep([ $], [_CFLAGS], [], $7)])"; LIBS="$$1_LIBS[]m4_ifval([$7], [m4_map_args_sep([ $], [_LIBS], [], $7)]) $LIBS"
AC_CHECK_HEADER([$5], [],
  [AC_MSG_ERROR([m4_default([$9], [$5 not usable with $1_CFLAGS='$$1_CFLAGS': install $4])])])
AC_MSG_CHECKING([that m4_default([$10], [$2]) links])
AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <$5>]], [$6])],
  [AC_MSG_RESULT([yes])],
  [AC_MSG_RESULT([no]); AC_MSG_ERROR([m4_default([$11], [cannot link $2 with $1_LIBS='$$1_LIBS': install $4])])])
CPPFLAGS="$save_CPPFLAGS"; LIBS="$save_LIBS"])])# MYO_CHECK_LIB

# _MYO_CHECK_LIB_PKG(NAME, IF-NOT-FOUND, MODULE, [MODULE]...)
# -----------------------------------------------------------
# PKG_CHECK_MODULES with each MODULE in turn until one is found.
m4_define([_MYO_CHECK_LIB_PKG],
[m4_if([$#], [3],
  [PKG_CHECK_MODULES([$1], [$3], [], [$2])],
  [PKG_CHECK_MODULES([$1], [$3], [],
    [_MYO_CHECK_LIB_PKG([$1], [$2], m4_shift3($@))])])])

# _MYO_CHECK_LIB_NAMES(MODULE, [MODULE]...)
# -----------------------------------------
# The MODULEs, comma-separated, without their version constraints.
m4_define([_MYO_CHECK_LIB_NAMES],
[m4_bpatsubst(m4_join([, ], $@), [ *[<>=!][^,]*])])
