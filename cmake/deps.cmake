# Third-party libraries, all from Debian packages installed by scripts/install-deps.sh.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
pkg_check_modules(PROTOBUFC REQUIRED IMPORTED_TARGET libprotobuf-c)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
# OpenBLAS is only the peer of the GEMM benchmark (bench/gemm): the server and its engine
# do not link it (it brings libgfortran and libquadmath, whose printf hooks send every
# printf in the process down glibc's slow path). The serial build: the pthread build
# starts a thread per host core when the library loads; found at run time through the
# RPATH (Debian's libopenblas.so.0 alternative may point at the pthread build).
set(INFERD_OPENBLAS_DIR /usr/lib/x86_64-linux-gnu/openblas-serial
    CACHE PATH "directory of the serial OpenBLAS (libopenblas-serial-dev)")
find_library(INFERD_OPENBLAS_LIB openblas PATHS ${INFERD_OPENBLAS_DIR} NO_DEFAULT_PATH REQUIRED)
find_path(INFERD_OPENBLAS_INCLUDE cblas.h
          PATHS /usr/include/x86_64-linux-gnu/openblas-serial NO_DEFAULT_PATH REQUIRED)
add_library(inferd_openblas INTERFACE)
target_link_libraries(inferd_openblas INTERFACE ${INFERD_OPENBLAS_LIB})
target_include_directories(inferd_openblas INTERFACE ${INFERD_OPENBLAS_INCLUDE})
target_link_options(inferd_openblas INTERFACE "-Wl,-rpath,${INFERD_OPENBLAS_DIR}")
find_program(PROTOC_C protoc-c REQUIRED)
set(INFERD_ONNX_PROTO /usr/include/onnx/onnx.proto CACHE FILEPATH "onnx.proto (libonnx-dev)")
