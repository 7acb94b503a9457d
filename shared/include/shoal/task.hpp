#pragma once
// Tasks (API.md §1): functions that run in another process, found by name or address.
//
//   int square(int x) { return x * x; }
//   SHOAL_TASK(square);                    // registered as "square"
//   SHOAL_TASK_AS(square, "math.square");  // explicit name
//   shoal::register_task("cube", cube);    // at run time
//
// A task is a free function or a captureless lambda whose parameter and result types
// are Codable (shoal/codec.hpp). Member functions and non-codable types are rejected
// at compile time. Names are global and unique; the registry is thread-safe.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "shoal/codec.hpp"
#include "shoal/internal/msgpack_array.h"
#include "shoal/internal/reply.h"

namespace shoal {
namespace internal {

// Runs `count` items of one task in the calling process: reads each item's arguments
// from `args` and appends one reply item per argument set to `reply` (internal/reply.h).
// Never throws: failures become failed reply items.
using Invoker = void (*)(std::uintptr_t fn, std::string_view args, std::size_t count,
                         std::string& reply);

// What the registry knows of a task.
struct TaskEntry {
  std::string name;
  std::uintptr_t fn = 0;   // the function's address
  std::string signature;   // e.g. "square: int (*)(int)", for error messages
  Invoker invoke = nullptr;  // MessagePack mode: the wire encoding
};

// Signature of a task callable F: a function, function pointer, or captureless lambda.
template <class F, class = void>
struct callable_traits {
  static constexpr bool kValid = false;
};
template <class R, class... A>
struct callable_traits<R (*)(A...)> {
  static constexpr bool kValid = true;
  using result = R;
  using params = std::tuple<A...>;
  using args = std::tuple<std::decay_t<A>...>;
  using pointer = R (*)(A...);
};
template <class R, class... A>
struct callable_traits<R (*)(A...) noexcept> : callable_traits<R (*)(A...)> {};
template <class R, class... A>
struct callable_traits<R(A...)> : callable_traits<R (*)(A...)> {};
template <class R, class... A>
struct callable_traits<R(A...) noexcept> : callable_traits<R (*)(A...)> {};
template <class M>
struct member_traits {
  static constexpr bool kValid = false;
};
template <class C, class R, class... A>
struct member_traits<R (C::*)(A...) const> : callable_traits<R (*)(A...)> {};
template <class C, class R, class... A>
struct member_traits<R (C::*)(A...) const noexcept> : callable_traits<R (*)(A...)> {};
template <class F>
struct callable_traits<F, std::void_t<decltype(&F::operator())>>
    : member_traits<decltype(&F::operator())> {};

template <class F>
using Traits = callable_traits<std::remove_cvref_t<F>>;

// Compile-time checks with a sentence a user understands.
template <class F>
constexpr void check_task() {
  using Fn = std::remove_cvref_t<F>;
  static_assert(!std::is_member_function_pointer_v<Fn>,
                "shoal: a member function cannot be a task; wrap it in a free function");
  static_assert(Traits<Fn>::kValid,
                "shoal: a task must be a free function or a captureless lambda with one "
                "non-overloaded call operator");
  if constexpr (Traits<Fn>::kValid) {
    static_assert(std::is_convertible_v<Fn, typename Traits<Fn>::pointer>,
                  "shoal: a lambda task must not capture (the child finds it by address)");
    using R = typename Traits<Fn>::result;
    static_assert(std::is_void_v<R> || Codable<R>,
                  "shoal: the task's result type is not serialisable (see shoal/codec.hpp)");
    static_assert([]<class... A>(std::tuple<A...>*) { return (Codable<A> && ...); }(
                      static_cast<typename Traits<Fn>::args*>(nullptr)),
                  "shoal: a task parameter type is not serialisable (see shoal/codec.hpp)");
  }
}

// True when every argument and the result may be memcpy'd (local pools only).
template <class R, class Args>
constexpr bool kRawCodable = false;
template <class R, class... A>
constexpr bool kRawCodable<R, std::tuple<A...>> =
    (std::is_void_v<R> || std::is_trivially_copyable_v<R>) &&
    (std::is_trivially_copyable_v<A> && ...);

// Appends the arguments of one item: raw bytes back to back, or a MessagePack array.
template <bool kRaw, class Args>
void encode_args(std::string& out, const Args& args) {
  if constexpr (kRaw) {
    std::apply([&](const auto&... a) {
      (out.append(reinterpret_cast<const char*>(&a), sizeof(a)), ...);
    }, args);
  } else {
    encode_to(out, args);
  }
}

// Throws SerializationError unless the MessagePack array at `offset` of `in` (a task's
// arguments) has exactly `arity` elements; other values are left for the decoder to refuse.
inline void check_arity(std::string_view in, std::size_t offset, std::size_t arity) {
  std::uint32_t count = 0;
  if (!msgpack_read_array_header(in, offset, count)) return;
  if (count != arity) {
    throw SerializationError("the task takes " + std::to_string(arity) + " argument" +
                             (arity == 1 ? "" : "s") + ", not " + std::to_string(count));
  }
}

// Advances `offset` past the MessagePack value there; leaves it where it is when the
// value is malformed (then no later value can be found either).
inline void skip_value(std::string_view in, std::size_t& offset) {
  try {
    (void)unpack_at(in, offset);
  } catch (const std::exception&) {
  }
}

// Reads the arguments of one item from `in` at `offset`, advancing it past them, also
// when they are refused (unless malformed).
// Throws SerializationError on malformed or mismatched input.
template <bool kRaw, class Args>
Args decode_args(std::string_view in, std::size_t& offset) {
  if constexpr (kRaw) {
    Args args;
    std::apply([&](auto&... a) {
      ((offset + sizeof(a) <= in.size()
            ? (std::memcpy(static_cast<void*>(&a), in.data() + offset, sizeof(a)),
               offset += sizeof(a))
            : throw SerializationError("task arguments ended early")),
       ...);
    }, args);
    return args;
  } else {
    try {
      check_arity(in, offset, std::tuple_size_v<Args>);
    } catch (const SerializationError&) {
      skip_value(in, offset);  // the next item's arguments start after these
      throw;
    }
    return decode_next<Args>(in, offset);
  }
}

template <class Params, class Args, class Fn, std::size_t... I>
decltype(auto) call_with(Fn fn, Args& args, std::index_sequence<I...>) {
  return fn([&]() -> decltype(auto) {
    using P = std::tuple_element_t<I, Params>;
    if constexpr (std::is_reference_v<P>) {
      return static_cast<P>(std::get<I>(args));
    } else {
      return std::move(std::get<I>(args));
    }
  }()...);
}

// Set in a pool's worker process while it runs a chunk under a time limit, null
// otherwise: called before each item after the first, it restarts the limit, which so
// applies to each item of a map rather than to the chunk.
extern void (*item_started)();

// The Invoker of a task with signature `Pointer`, in raw or MessagePack mode.
template <bool kRaw, class Pointer>
void invoke_items(std::uintptr_t fn, std::string_view in, std::size_t count,
                  std::string& reply) {
  using T = callable_traits<Pointer>;
  using R = typename T::result;
  using Args = typename T::args;
  auto f = reinterpret_cast<Pointer>(fn);
  std::size_t offset = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0 && item_started != nullptr) item_started();
    const std::size_t mark = reply.size();  // a failed item leaves none of its bytes
    try {
      Args args = decode_args<kRaw, Args>(in, offset);
      if constexpr (!kRaw) {  // bytes after the last argument array: malformed, not ignored
        if (i + 1 == count && offset != in.size()) {
          throw SerializationError("the task's arguments are followed by " +
                                   std::to_string(in.size() - offset) + " more byte(s)");
        }
      }
      constexpr auto seq = std::make_index_sequence<std::tuple_size_v<Args>>();
      if constexpr (std::is_void_v<R>) {
        call_with<typename T::params>(f, args, seq);
        reply_ok<kRaw>(reply, VoidResult{});
      } else {
        reply_ok<kRaw>(reply, call_with<typename T::params>(f, args, seq));
      }
    } catch (...) {
      reply.resize(mark);
      reply_failed(reply, current_exception_info());
    }
  }
}

// Registry internals. Lookups return nullptr when absent; entries live forever.
void add_task(TaskEntry entry);  // throws std::invalid_argument on a taken name
const TaskEntry* find_task(std::string_view name);
const TaskEntry* find_task(std::uintptr_t fn);
std::vector<std::string> task_names();  // sorted

template <class F>
TaskEntry make_entry(std::string name, F fn, std::string text) {
  check_task<F>();
  using Pointer = typename Traits<F>::pointer;
  Pointer pointer = fn;
  TaskEntry entry;
  entry.name = std::move(name);
  entry.fn = reinterpret_cast<std::uintptr_t>(pointer);
  entry.signature = std::move(text) + ": " + type_name<Pointer>();
  entry.invoke = &invoke_items<false, Pointer>;
  return entry;
}

// SHOAL_TASK's start-up registration: on a taken name it prints the error and exits(2).
bool register_at_startup(TaskEntry entry);

}  // namespace internal

// Registers `fn` under `name`. Throws std::invalid_argument naming both functions
// when the name is taken. Thread-safe.
template <class F>
void register_task(std::string name, F fn) {
  internal::add_task(internal::make_entry(std::move(name), fn, "function"));
}

}  // namespace shoal

#define SHOAL_INTERNAL_CONCAT2(a, b) a##b
#define SHOAL_INTERNAL_CONCAT(a, b) SHOAL_INTERNAL_CONCAT2(a, b)

// Registers function `fn` under the name "fn" at start-up.
#define SHOAL_TASK(fn) SHOAL_TASK_AS(fn, #fn)
// Registers function `fn` under `name` at start-up; a taken name stops the program.
#define SHOAL_TASK_AS(fn, name)                                               \
  [[maybe_unused]] static const bool SHOAL_INTERNAL_CONCAT(shoal_task_, __COUNTER__) = \
      ::shoal::internal::register_at_startup(::shoal::internal::make_entry(name, fn, #fn))
