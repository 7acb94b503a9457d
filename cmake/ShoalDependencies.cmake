# Finds every dependency once; all come from Debian 12 packages (scripts/deps.sh).
find_package(Threads REQUIRED)
find_package(msgpack CONFIG REQUIRED)          # libmsgpack-cxx-dev: target msgpackc-cxx
find_package(Protobuf REQUIRED)                # libprotobuf-dev, protobuf-compiler
find_package(absl CONFIG REQUIRED)             # libabsl-dev
find_package(gRPC CONFIG REQUIRED)             # libgrpc++-dev, protobuf-compiler-grpc
find_package(cppzmq CONFIG REQUIRED)           # libzmq3-dev, cppzmq-dev
# libsodium-dev (libzmq3-dev's own CURVE crypto): hashes a Manager's authkey into keys.
find_package(PkgConfig REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET GLOBAL libsodium)
find_program(SHOAL_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
