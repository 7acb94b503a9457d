# Backends of the Pool facade. local_backend.cc: the engine; remote_*.cc: the broker client.
set(SHOAL_CLIENT_BACKEND_SOURCES
  local_backend.cc
)
