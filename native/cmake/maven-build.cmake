# Builds libarelu.so for the Maven build (pom.xml runs it with cmake -P) and puts it where NativeKernels looks
# for it in the jar: <OUTPUT_DIR>/io/github/arelu/<platform>/, <platform> named as JavaCPP's
# Loader.getPlatform() names the machine running the build (linux-x86_64, linux-arm64, ...).
#
# Arguments (-D before -P):
#   SOURCE_DIR  native/            BINARY_DIR  the CMake build directory (under target/)
#   OUTPUT_DIR  target/classes     JOBS        parallel jobs; empty: CMAKE_BUILD_PARALLEL_LEVEL from the
#                                              environment, else one per logical core
#   PLATFORM    empty: this machine's JavaCPP platform name
cmake_minimum_required(VERSION 3.24)
foreach(arg SOURCE_DIR BINARY_DIR OUTPUT_DIR)
  if(NOT ${arg})
    message(FATAL_ERROR "maven-build.cmake needs -D${arg}=...")
  endif()
endforeach()
cmake_host_system_information(RESULT os QUERY OS_NAME)
if(NOT os STREQUAL "Linux")
  message(FATAL_ERROR "arelu: native/ builds libarelu.so for Linux only (it links with a GNU ld version script); "
                      "on ${os}, build with -Darelu.native.skip=true: AReLU then takes the composed path")
endif()

# A build directory configured for another source tree (the project copied or moved, target/ included) keeps
# that tree's absolute paths in its cache, and CMake refuses to configure it again: start it afresh.
set(cache "${BINARY_DIR}/CMakeCache.txt")
if(EXISTS "${cache}")
  file(STRINGS "${cache}" home REGEX "^CMAKE_HOME_DIRECTORY:INTERNAL=")
  string(REPLACE "CMAKE_HOME_DIRECTORY:INTERNAL=" "" home "${home}")
  file(REAL_PATH "${SOURCE_DIR}" source_real)
  if(EXISTS "${home}")
    file(REAL_PATH "${home}" home)
  endif()
  if(NOT home STREQUAL source_real)
    message(STATUS "arelu: ${BINARY_DIR} was configured for ${home}; configuring it again for ${source_real}")
    file(REMOVE_RECURSE "${BINARY_DIR}")
  endif()
endif()

execute_process(
  COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${BINARY_DIR}" -DCMAKE_BUILD_TYPE=Release
          -DARELU_BUILD_TESTS=OFF -DARELU_BUILD_TORCH=OFF
  COMMAND_ERROR_IS_FATAL ANY)

if(NOT JOBS)
  if(DEFINED ENV{CMAKE_BUILD_PARALLEL_LEVEL} AND NOT "$ENV{CMAKE_BUILD_PARALLEL_LEVEL}" STREQUAL "")
    set(JOBS "$ENV{CMAKE_BUILD_PARALLEL_LEVEL}")
  else()
    cmake_host_system_information(RESULT JOBS QUERY NUMBER_OF_LOGICAL_CORES)
  endif()
endif()
execute_process(
  COMMAND "${CMAKE_COMMAND}" --build "${BINARY_DIR}" --target arelu --parallel ${JOBS}
  COMMAND_ERROR_IS_FATAL ANY)

if(NOT PLATFORM)
  # JavaCPP's names: os.arch amd64 / x86_64 -> x86_64, aarch64 / arm64 -> arm64, i386..i686 / x86 -> x86,
  # ppc64le and riscv64 as they are.
  cmake_host_system_information(RESULT arch QUERY OS_PLATFORM)
  string(TOLOWER "${arch}" arch)
  if(arch MATCHES "^(amd64|x86_64|x64)$")
    set(arch x86_64)
  elseif(arch MATCHES "^(aarch64|arm64)$")
    set(arch arm64)
  elseif(arch MATCHES "^(i[3-6]86|x86)$")
    set(arch x86)
  endif()
  set(PLATFORM "linux-${arch}")
endif()
set(library "${BINARY_DIR}/libarelu.so")
file(COPY "${library}" DESTINATION "${OUTPUT_DIR}/io/github/arelu/${PLATFORM}")
message(STATUS "arelu: ${library} -> ${OUTPUT_DIR}/io/github/arelu/${PLATFORM}/")
