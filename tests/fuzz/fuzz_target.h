// Coverage-guided fuzz targets: functions over arbitrary bytes that must return without
// crashing, hanging or tripping a sanitizer, and that check their own properties with
// SHOAL_FUZZ_CHECK (which aborts, so that libFuzzer keeps the input).
//
// One target per file, named <name>_fuzz.cc, defined with SHOAL_FUZZ_TARGET(name). In the
// libFuzzer build (-DSHOAL_FUZZ=ON, clang) the file becomes the executable fuzz_<name>;
// in every build its corpus, tests/fuzz/corpus/<name>/, runs in shoal_fuzz_tests, so an
// input that once broke a target stays a test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace shoal::fuzz {

using TargetFn = void (*)(const uint8_t* data, size_t size);

// Every target linked into this binary, by name.
std::map<std::string, TargetFn>& targets();

// Adds `fn` under `name`; returns true, for a static initializer.
bool register_target(const char* name, TargetFn fn);

// Prints `what` with its place and aborts: a property a target checks does not hold.
[[noreturn]] void fail(const char* what, const char* file, int line);

}  // namespace shoal::fuzz

// Aborts the run when `cond` is false; libFuzzer saves the input that did it.
#define SHOAL_FUZZ_CHECK(cond) \
  ((cond) ? (void)0 : ::shoal::fuzz::fail(#cond, __FILE__, __LINE__))

#ifdef SHOAL_FUZZ_MAIN
#define SHOAL_FUZZ_ENTRY_(name)                                                   \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {       \
    shoal_fuzz_##name(data, size);                                                \
    return 0;                                                                     \
  }
#else
#define SHOAL_FUZZ_ENTRY_(name)                                        \
  [[maybe_unused]] static const bool shoal_fuzz_registered_##name =   \
      ::shoal::fuzz::register_target(#name, &shoal_fuzz_##name);
#endif

// Defines the fuzz target `name`; the function body follows, with `data` and `size`.
#define SHOAL_FUZZ_TARGET(name)                                          \
  static void shoal_fuzz_##name(const uint8_t* data, size_t size);      \
  SHOAL_FUZZ_ENTRY_(name)                                                \
  static void shoal_fuzz_##name(const uint8_t* data, size_t size)
