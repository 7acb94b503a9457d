file(REMOVE_RECURSE
  "CMakeFiles/shoal_shared.dir/codec.cc.o"
  "CMakeFiles/shoal_shared.dir/codec.cc.o.d"
  "CMakeFiles/shoal_shared.dir/collect_state.cc.o"
  "CMakeFiles/shoal_shared.dir/collect_state.cc.o.d"
  "CMakeFiles/shoal_shared.dir/error_info.cc.o"
  "CMakeFiles/shoal_shared.dir/error_info.cc.o.d"
  "CMakeFiles/shoal_shared.dir/future_state.cc.o"
  "CMakeFiles/shoal_shared.dir/future_state.cc.o.d"
  "CMakeFiles/shoal_shared.dir/reply.cc.o"
  "CMakeFiles/shoal_shared.dir/reply.cc.o.d"
  "CMakeFiles/shoal_shared.dir/task_registry.cc.o"
  "CMakeFiles/shoal_shared.dir/task_registry.cc.o.d"
  "libshoal_shared.a"
  "libshoal_shared.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/shoal_shared.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
