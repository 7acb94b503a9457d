# The multiprocessing toolbox: Process, Queue, Pipe, locks, Value/Array, SharedMemory, Manager.
set(SHOAL_MP_SOURCES
  mp/condition.cc
  mp/futex.cc
  mp/process.cc
  mp/shared_region.cc
  mp/sync.cc
)
