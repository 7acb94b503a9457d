
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/shared/codec.cc" "shared/CMakeFiles/shoal_shared.dir/codec.cc.o" "gcc" "shared/CMakeFiles/shoal_shared.dir/codec.cc.o.d"
  "/work/main/shared/collect_state.cc" "shared/CMakeFiles/shoal_shared.dir/collect_state.cc.o" "gcc" "shared/CMakeFiles/shoal_shared.dir/collect_state.cc.o.d"
  "/work/main/shared/error_info.cc" "shared/CMakeFiles/shoal_shared.dir/error_info.cc.o" "gcc" "shared/CMakeFiles/shoal_shared.dir/error_info.cc.o.d"
  "/work/main/shared/future_state.cc" "shared/CMakeFiles/shoal_shared.dir/future_state.cc.o" "gcc" "shared/CMakeFiles/shoal_shared.dir/future_state.cc.o.d"
  "/work/main/shared/reply.cc" "shared/CMakeFiles/shoal_shared.dir/reply.cc.o" "gcc" "shared/CMakeFiles/shoal_shared.dir/reply.cc.o.d"
  "/work/main/shared/task_registry.cc" "shared/CMakeFiles/shoal_shared.dir/task_registry.cc.o" "gcc" "shared/CMakeFiles/shoal_shared.dir/task_registry.cc.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
