# GoogleTest for the test programs: an installed one (Debian: libgtest-dev), else one built here from the
# sources named by ARELU_GTEST_SOURCE (such as Debian's /usr/src/googletest copied to a machine that has no
# GoogleTest: the GPU machine's scripts pass build/googletest-src when it is there). Either way the targets
# are GTest::gtest and GTest::gtest_main, and ARELU_GTEST_FOUND says whether there are any.
set(ARELU_GTEST_SOURCE "" CACHE PATH "GoogleTest's sources, built when no installed GoogleTest is found")

macro(arelu_find_googletest)
  if(NOT TARGET GTest::gtest)
    find_package(GTest QUIET)
  endif()
  if(NOT TARGET GTest::gtest AND ARELU_GTEST_SOURCE)
    if(NOT EXISTS "${ARELU_GTEST_SOURCE}/CMakeLists.txt")
      message(FATAL_ERROR "ARELU_GTEST_SOURCE=${ARELU_GTEST_SOURCE} holds no GoogleTest sources (no CMakeLists.txt)")
    endif()
    set(BUILD_GMOCK OFF CACHE BOOL "GoogleTest's sources: no GoogleMock" FORCE)
    set(INSTALL_GTEST OFF CACHE BOOL "GoogleTest's sources: nothing to install" FORCE)
    add_subdirectory("${ARELU_GTEST_SOURCE}" "${CMAKE_BINARY_DIR}/googletest" EXCLUDE_FROM_ALL)
    if(NOT TARGET GTest::gtest)
      # GoogleTest 1.11 and later name their targets so themselves.
      add_library(GTest::gtest ALIAS gtest)
      add_library(GTest::gtest_main ALIAS gtest_main)
    endif()
    message(STATUS "arelu: GoogleTest built from ${ARELU_GTEST_SOURCE}")
  endif()
  if(TARGET GTest::gtest)
    set(ARELU_GTEST_FOUND TRUE)
  else()
    set(ARELU_GTEST_FOUND FALSE)
  endif()
endmacro()
