// The CLI's JSON <-> MessagePack converter (client/cli/json_msgpack.h), fed arbitrary
// bytes both ways. Properties: what it accepts converts back and forth to a fixed point;
// what it prints from MessagePack is JSON it reads again.
#include <string>
#include <string_view>

#include "client/cli/json_msgpack.h"
#include "tests/fuzz/fuzz_target.h"

SHOAL_FUZZ_TARGET(cli_json) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // As JSON: accepted text gives MessagePack that prints as JSON and reads back the same.
  if (auto packed = shoal::cli::json_to_msgpack(input); packed.ok()) {
    auto printed = shoal::cli::msgpack_to_json(*packed);
    SHOAL_FUZZ_CHECK(printed.ok());
    auto again = shoal::cli::json_to_msgpack(*printed);
    SHOAL_FUZZ_CHECK(again.ok());
    SHOAL_FUZZ_CHECK(*again == *packed);
  }

  // As MessagePack: whatever prints is JSON the reader takes (nesting within its limit).
  if (auto printed = shoal::cli::msgpack_to_json(input); printed.ok()) {
    auto packed = shoal::cli::json_to_msgpack(*printed);
    SHOAL_FUZZ_CHECK(packed.ok() || packed.status().message().find("nested") !=
                                        std::string_view::npos);
  }
}
