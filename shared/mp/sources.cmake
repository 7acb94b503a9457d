# The multiprocessing toolbox: Process, Queue, Pipe, locks, Value/Array, SharedMemory, Manager.
set(SHOAL_MP_SOURCES
  mp/byte_queue.cc
  mp/channel.cc
  mp/condition.cc
  mp/connection.cc
  mp/futex.cc
  mp/manager.cc
  mp/manager_auth.cc
  mp/manager_client.cc
  mp/manager_direct.cc
  mp/manager_server.cc
  mp/manager_store.cc
  mp/process.cc
  mp/shared_memory.cc
  mp/shared_region.cc
  mp/sync.cc
)
