# Runs at install time (`cmake --install build --prefix X`, `make install`),
# when the prefix is known: writes boxlet.pc and boxlet-static.pc for the
# prefix really installed to, and makes the shared library findable.
# - A libdir the loader searches (/usr/lib..., /usr/local/lib on Debian, any
#   directory listed in /etc/ld.so.conf*): ldconfig runs (unless DESTDIR is
#   set: a staged install is not this machine's), and boxlet.pc adds nothing.
# - Any other libdir (a private prefix): boxlet.pc's Libs carry
#   -Wl,-rpath,LIBDIR, so a program linked with it runs without
#   LD_LIBRARY_PATH.
# Inputs (set by the install(CODE) before this script): BOXLET_SRC,
# BOXLET_LIBDIR, BOXLET_INCLUDEDIR (relative to the prefix or absolute),
# BOXLET_VERSION.
foreach(v LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${BOXLET_${v}}")
    set(${v} "${BOXLET_${v}}")
  else()
    set(${v} "${CMAKE_INSTALL_PREFIX}/${BOXLET_${v}}")
  endif()
endforeach()
set(PREFIX "${CMAKE_INSTALL_PREFIX}")
set(VERSION "${BOXLET_VERSION}")

set(searched /lib /usr/lib /lib64 /usr/lib64)
file(GLOB confs /etc/ld.so.conf /etc/ld.so.conf.d/*.conf)
foreach(conf ${confs})
  file(STRINGS "${conf}" lines REGEX "^/")
  list(APPEND searched ${lines})
endforeach()
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-multiarch OUTPUT_VARIABLE multiarch
                OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(multiarch)
  list(APPEND searched /lib/${multiarch} /usr/lib/${multiarch})
endif()
get_filename_component(real_libdir "${LIBDIR}" ABSOLUTE)
list(FIND searched "${real_libdir}" found)
if(found GREATER -1)
  set(RPATH "")
  set(loader_searches ON)
else()
  set(RPATH " -Wl,-rpath,\${libdir}")
  set(loader_searches OFF)
endif()

foreach(pc boxlet boxlet-static)
  file(READ "${BOXLET_SRC}/${pc}.pc.in" text)
  string(CONFIGURE "${text}" text @ONLY)
  set(dest "$ENV{DESTDIR}${LIBDIR}/pkgconfig/${pc}.pc")
  message(STATUS "Installing: ${dest}")
  file(WRITE "${dest}" "${text}")
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${dest}")
endforeach()

if(loader_searches AND "$ENV{DESTDIR}" STREQUAL "")
  execute_process(COMMAND ldconfig RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(WARNING "ldconfig failed (${rc}): ${err}: run it as root, or programs "
                    "linked with libboxlet will not find libboxlet.so.0")
  endif()
endif()
