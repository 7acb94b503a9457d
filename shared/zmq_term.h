#pragma once
// Ending a ZeroMQ context without hanging the process. zmq_ctx_term waits until every
// socket is closed and its pending messages are sent or its linger is over; libzmq 4.3.4
// (Debian 12) was seen to wait forever after all sockets were closed, with no timer left
// to run and both of its threads idle: a broker shutdown in a test loop, never in 3,000
// runs on an idle machine, several per thousand under CPU load.

#include <chrono>

#include "zmq.hpp"

namespace shoal::internal {

// Terminates `context`, whose sockets must all be closed, and returns true; or, if that
// takes longer than `bound`, returns false and leaves the termination to a detached
// thread that owns the context (so the caller never hangs on it).
bool terminate_within(zmq::context_t context, std::chrono::milliseconds bound);

}  // namespace shoal::internal
