#pragma once
// The multiprocessing toolbox (API.md §5–§7), one include: processes, queues, pipes,
// locks and friends, shared values and arrays, named shared memory, and the Manager.

#include "shoal/connection.hpp"
#include "shoal/manager.hpp"
#include "shoal/process.hpp"
#include "shoal/queue.hpp"
#include "shoal/shared_memory.hpp"
#include "shoal/shared_value.hpp"
#include "shoal/sync.hpp"
