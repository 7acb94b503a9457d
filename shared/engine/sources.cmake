# The local fork/shared-memory pool engine (owned by the engine work).
set(SHOAL_ENGINE_SOURCES
  engine/byte_ring.cc
  engine/engine.cc
  engine/engine_collect.cc
  engine/futex.cc
  engine/layout.cc
  engine/shared_region.cc
  engine/slab.cc
  engine/token_ring.cc
  engine/worker_loop.cc
  engine/zygote.cc
)
