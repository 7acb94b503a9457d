# The .proto files of package shoal.v1, relative to proto/.
set(SHOAL_PROTO_FILES
  shoal/v1/task.proto
  shoal/v1/worker.proto
  shoal/v1/service.proto
)
