file(REMOVE_RECURSE
  "CMakeFiles/shoal_shared_tests.dir/codec_test.cc.o"
  "CMakeFiles/shoal_shared_tests.dir/codec_test.cc.o.d"
  "CMakeFiles/shoal_shared_tests.dir/future_test.cc.o"
  "CMakeFiles/shoal_shared_tests.dir/future_test.cc.o.d"
  "CMakeFiles/shoal_shared_tests.dir/task_registry_test.cc.o"
  "CMakeFiles/shoal_shared_tests.dir/task_registry_test.cc.o.d"
  "shoal_shared_tests"
  "shoal_shared_tests.pdb"
  "shoal_shared_tests[1]_tests.cmake"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/shoal_shared_tests.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
