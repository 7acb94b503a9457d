#----------------------------------------------------------------
# Generated CMake target import file for configuration "RelWithDebInfo".
#----------------------------------------------------------------

# Commands may need to know the format version.
set(CMAKE_IMPORT_FILE_VERSION 1)

# Import target "shoal::shoal_shared" for configuration "RelWithDebInfo"
set_property(TARGET shoal::shoal_shared APPEND PROPERTY IMPORTED_CONFIGURATIONS RELWITHDEBINFO)
set_target_properties(shoal::shoal_shared PROPERTIES
  IMPORTED_LINK_INTERFACE_LANGUAGES_RELWITHDEBINFO "CXX"
  IMPORTED_LOCATION_RELWITHDEBINFO "${_IMPORT_PREFIX}/lib/libshoal_shared.a"
  )

list(APPEND _cmake_import_check_targets shoal::shoal_shared )
list(APPEND _cmake_import_check_files_for_shoal::shoal_shared "${_IMPORT_PREFIX}/lib/libshoal_shared.a" )

# Import target "shoal::shoal_client" for configuration "RelWithDebInfo"
set_property(TARGET shoal::shoal_client APPEND PROPERTY IMPORTED_CONFIGURATIONS RELWITHDEBINFO)
set_target_properties(shoal::shoal_client PROPERTIES
  IMPORTED_LINK_INTERFACE_LANGUAGES_RELWITHDEBINFO "CXX"
  IMPORTED_LOCATION_RELWITHDEBINFO "${_IMPORT_PREFIX}/lib/libshoal_client.a"
  )

list(APPEND _cmake_import_check_targets shoal::shoal_client )
list(APPEND _cmake_import_check_files_for_shoal::shoal_client "${_IMPORT_PREFIX}/lib/libshoal_client.a" )

# Commands beyond this point should not need to know the version.
set(CMAKE_IMPORT_FILE_VERSION)
