#pragma once
// Shoal: one header for everything (API.md). Per-area headers are under <shoal/...>.

#include "shoal/codec.hpp"
#include "shoal/errors.hpp"
#include "shoal/future.hpp"
#include "shoal/options.hpp"
#include "shoal/task.hpp"
#include "shoal/pool.hpp"
#if __has_include("shoal/mp.hpp")
#include "shoal/mp.hpp"
#endif
// shoal::worker users (target shoal::worker) also get worker_main.
#if __has_include("shoal/worker_main.hpp")
#include "shoal/worker_main.hpp"
#endif
