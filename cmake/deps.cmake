# Third-party libraries, all from Debian packages installed by scripts/install-deps.sh.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
pkg_check_modules(PROTOBUFC REQUIRED IMPORTED_TARGET libprotobuf-c)
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)
find_program(PROTOC_C protoc-c REQUIRED)
set(INFERD_ONNX_PROTO /usr/include/onnx/onnx.proto CACHE FILEPATH "onnx.proto (libonnx-dev)")
