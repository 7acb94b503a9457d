file(REMOVE_RECURSE
  "CMakeFiles/shoal_client.dir/pool.cc.o"
  "CMakeFiles/shoal_client.dir/pool.cc.o.d"
  "libshoal_client.a"
  "libshoal_client.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/shoal_client.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
