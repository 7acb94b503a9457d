
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/tests/shared/codec_test.cc" "tests/shared/CMakeFiles/shoal_shared_tests.dir/codec_test.cc.o" "gcc" "tests/shared/CMakeFiles/shoal_shared_tests.dir/codec_test.cc.o.d"
  "/work/main/tests/shared/future_test.cc" "tests/shared/CMakeFiles/shoal_shared_tests.dir/future_test.cc.o" "gcc" "tests/shared/CMakeFiles/shoal_shared_tests.dir/future_test.cc.o.d"
  "/work/main/tests/shared/task_registry_test.cc" "tests/shared/CMakeFiles/shoal_shared_tests.dir/task_registry_test.cc.o" "gcc" "tests/shared/CMakeFiles/shoal_shared_tests.dir/task_registry_test.cc.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build/shared/CMakeFiles/shoal_shared.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
