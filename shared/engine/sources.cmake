# The local fork/shared-memory pool engine (owned by the engine work).
set(SHOAL_ENGINE_SOURCES
)
