#pragma once
// UTF-8 checks for strings that cross the wire in protobuf `string` fields,
// which must be valid UTF-8 (a frame holding anything else does not parse at
// the receiver).
#include <cstddef>
#include <string>
#include <string_view>

namespace shoal::internal {

// Length of the valid UTF-8 sequence at text[i] (1 to 4 bytes), or 0 if none starts
// there. `i` must be within `text`.
std::size_t utf8_sequence_at(std::string_view text, std::size_t i);

// True if `text` is well-formed UTF-8 (no overlong forms, surrogates or code
// points past U+10FFFF).
bool is_utf8(std::string_view text);

// `text` itself if it is valid UTF-8, else a copy with each byte that is not
// part of a valid sequence written as "\xNN" (Python's "backslashreplace").
std::string utf8_or_escaped(std::string_view text);

// `text` in single quotes for a one-line message that a terminal or a log shows safely:
// control characters (C0, DEL, C1), quotes and backslashes escaped ("\n", "\x1b",
// "\u009b", "\'"), bytes that are not UTF-8 as "\xNN"; past its first `max_bytes`
// (cut between characters) it ends in "…". For names a client or worker chose.
std::string quoted_excerpt(std::string_view text, std::size_t max_bytes = 64);

}  // namespace shoal::internal
