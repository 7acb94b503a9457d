file(REMOVE_RECURSE
  "libshoal_shared.a"
)
