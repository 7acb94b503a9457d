# cmake --install support: shoal::shoal and shoal::worker through find_package(shoal CONFIG).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(DIRECTORY shared/include/ client/include/ worker/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# Every library target that an installed shoal::shoal or shoal::worker links.
set(SHOAL_INSTALL_TARGETS)
foreach(target shoal_proto shoal_shared shoal_client shoal_all shoal_worker shoal_worker_all)
  if(TARGET ${target})
    list(APPEND SHOAL_INSTALL_TARGETS ${target})
  endif()
endforeach()
install(TARGETS ${SHOAL_INSTALL_TARGETS}
        EXPORT shoalTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT shoalTargets NAMESPACE shoal::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/shoal)
configure_package_config_file(cmake/shoalConfig.cmake.in
        ${CMAKE_CURRENT_BINARY_DIR}/shoalConfig.cmake
        INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/shoal)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/shoalConfigVersion.cmake
        COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/shoalConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/shoalConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/shoal)
