#pragma once
// Conversions between the in-process formats (Submission args, reply bytes, ErrorInfo)
// and the shoal.v1 wire messages. Both ends of the distributed path use them: the
// remote backend (client) and the worker. Pure functions; thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shoal/internal/error_info.h"
#include "shoal/internal/future_state.h"
#include "shoal/internal/msgpack_array.h"  // msgpack_read_array_header
#include "shoal/v1/task.pb.h"

namespace shoal::internal {

// Advances `offset` past one MessagePack value of `in`. Returns false (offset then
// unspecified) when the value is malformed or truncated. Iterative: no recursion.
bool msgpack_skip(std::string_view in, std::size_t& offset);

// Appends a MessagePack array header for `count` elements.
void msgpack_append_array_header(std::string& out, std::uint32_t count);

// Task.args for `items` argument arrays back to back (a Submission's args): the array
// itself for a single call, else one array wrapping the `items` arrays.
std::string wire_args(std::string_view args, std::size_t items);

// The inverse on the worker: the argument arrays of a Task back to back, as an
// Invoker reads them. A view into task.args. InvalidArgument when args do not hold
// max(1, task.items) arrays (a chunk's array header must count them, and there must be
// a byte at least for each).
absl::StatusOr<std::string_view> invoke_args(const v1::Task& task);

// The public-edge error for a wire TaskError (kinds outside ErrorKind -> kOther).
ErrorInfo to_error_info(const v1::TaskError& error);
// The wire form of an ErrorInfo.
void to_task_error(const ErrorInfo& info, v1::TaskError* out);

// Fills result->items from a reply of `items` reply items (internal/reply.h).
// InvalidArgument when the reply is malformed; `result` is then partly filled.
absl::Status reply_to_items(std::string_view reply, std::size_t items, v1::TaskResult* result);

// Fills `result` from a reply of `items` reply items: result->values (one MessagePack
// array) when every call succeeded, else result->items as reply_to_items does.
// InvalidArgument when the reply is malformed; `result` is then partly filled. A single
// call's value is moved, not copied.
absl::Status reply_to_result(std::string reply, std::size_t items, v1::TaskResult* result);

// The results of a TaskResult's calls in call order, views into result.values or
// result.items; an item that failed is an empty view (see result.items(i).error()).
// InvalidArgument when result.values is not a MessagePack array of whole values.
absl::StatusOr<std::vector<std::string_view>> result_values(const v1::TaskResult& result);

// The reply bytes (internal/reply.h) of a TaskResult without failure (values or items).
// InvalidArgument when result.values is malformed, or an item's value is not exactly one
// MessagePack value.
absl::StatusOr<std::string> result_to_reply(const v1::TaskResult& result);

// The sequence number of a task id this process made (task_id_string(seq)); nullopt for
// any other string (also one that differs from it by leading zeros), which then names no
// task of this process.
std::optional<std::uint64_t> task_seq_of(std::string_view id);

// Resolves `sink`'s submission `index`, a task of `items` calls, with `result`, calling
// exactly one of fail() and complete() once: fail() with the result's failure, or with a
// kSerialization error when the result is malformed or holds another number of outcomes
// than max(1, items); else complete() with its reply bytes. May move result.values into
// the reply: `result` is spent.
void resolve_with_result(v1::TaskResult& result, std::size_t items, Sink& sink,
                         std::size_t index);

}  // namespace shoal::internal
