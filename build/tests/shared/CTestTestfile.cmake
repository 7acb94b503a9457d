# CMake generated Testfile for 
# Source directory: /work/main/tests/shared
# Build directory: /work/main/build/tests/shared
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
include("/work/main/build/tests/shared/shoal_shared_tests[1]_include.cmake")
