# The .proto files of package shoal.v1, relative to proto/.
set(SHOAL_PROTO_FILES
)
