#pragma once
// The project's one RETURN_IF_ERROR (abseil 20220623 ships none). Broker-local because the
// broker links no shared/ code; move it to shared/ if another component needs it.

#include "absl/status/status.h"

// Evaluates `expr` (an absl::Status); returns it from the enclosing function unless ok.
#define RETURN_IF_ERROR(expr)                    \
  do {                                           \
    ::absl::Status shoal_status_ = (expr);       \
    if (!shoal_status_.ok()) return shoal_status_; \
  } while (0)
