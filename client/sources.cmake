# Backends of the Pool facade. local_backend.cc: the engine; remote_*.cc: the broker client.
set(SHOAL_CLIENT_BACKEND_SOURCES
  local_backend.cc
  remote_backend.cc
  remote_backend_control.cc
  remote_channel.cc
  remote_session.cc
  remote_status.cc
  remote_wire.cc
)
