file(REMOVE_RECURSE
  "libshoal_client.a"
)
