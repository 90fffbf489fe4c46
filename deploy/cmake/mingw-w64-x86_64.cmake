# Toolchain: 64-bit Windows with Debian's mingw-w64 cross-compiler; programs
# (tests) run under Wine.
#
#   cmake --preset windows          (CMakePresets.json)
#   cmake -S . -B build-windows -G Ninja \
#         -DCMAKE_TOOLCHAIN_FILE=deploy/cmake/mingw-w64-x86_64.cmake
#
# Libraries Debian does not package for mingw (jansson, cmocka) are built by
# deploy/setup-mingw-jansson.sh into PSTSNAP_MINGW_PREFIX (environment
# variable, default /opt/pstsnap-mingw), which is searched here and is where
# pkg-config looks -- never in the build machine's own /usr/lib.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(PSTSNAP_MINGW_TRIPLE x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${PSTSNAP_MINGW_TRIPLE}-gcc)
set(CMAKE_RC_COMPILER ${PSTSNAP_MINGW_TRIPLE}-windres)

if(DEFINED ENV{PSTSNAP_MINGW_PREFIX})
  set(PSTSNAP_MINGW_PREFIX "$ENV{PSTSNAP_MINGW_PREFIX}")
else()
  set(PSTSNAP_MINGW_PREFIX /opt/pstsnap-mingw)
endif()

# Headers and libraries only from the mingw sysroot and our prefix; programs
# (pkg-config, python3, wine) from the build machine.
set(CMAKE_FIND_ROOT_PATH /usr/${PSTSNAP_MINGW_TRIPLE} ${PSTSNAP_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config must describe the mingw builds, not Debian's Linux packages.
set(ENV{PKG_CONFIG_LIBDIR} "${PSTSNAP_MINGW_PREFIX}/lib/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# Tests (add_test with a target as COMMAND) run through Wine. Debian's `wine`
# wrapper picks wine64 when the 32-bit loader is not installed.
find_program(PSTSNAP_WINE NAMES wine wine64 PATHS /usr/lib/wine)
if(PSTSNAP_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${PSTSNAP_WINE})
endif()
