#pragma once
// JSON <-> MessagePack for the `shoal` CLI: task arguments are typed as JSON on the
// command line and in .jsonl files, results are printed as JSON.
//
// JSON -> MessagePack: objects -> maps, arrays -> arrays, integers -> the smallest
// MessagePack integer (int64/uint64 range), other numbers -> float64, strings -> str.
// MessagePack -> JSON: bin -> a base64 string, ext -> {"$ext": TYPE, "base64": ...},
// non-string map keys -> their JSON text, NaN/Inf -> null.
//
// Every string the CLI prints inside JSON goes through append_json_string(), so every
// line it prints on stdout is valid JSON: control characters are escaped, and a byte
// that is not part of valid UTF-8 prints as U+FFFD (the replacement character; the
// original bytes are lost, as with Python's errors="replace").

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace shoal::cli {

// One JSON value (surrounding whitespace allowed) as one MessagePack value.
// kInvalidArgument with the byte offset on malformed JSON or nesting deeper than 256.
absl::StatusOr<std::string> json_to_msgpack(std::string_view json);

// One MessagePack value as compact JSON. kInvalidArgument on malformed input, trailing
// bytes, or JSON text longer than 8 MiB + 8 bytes per input byte (maps as keys of maps,
// nested, double their escapes at each level).
absl::StatusOr<std::string> msgpack_to_json(std::string_view msgpack);

// Appends `text` to `out` as a JSON string literal (quotes included): '"', '\\' and
// control characters (< 0x20) escaped, each byte that is not part of valid UTF-8 as
// U+FFFD. The result is always valid JSON.
void append_json_string(std::string& out, std::string_view text);

// `text` as a JSON string literal, as append_json_string() writes it.
std::string json_string(std::string_view text);

}  // namespace shoal::cli
