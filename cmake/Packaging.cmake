# Installing and packaging Sluice (included from the top-level
# CMakeLists.txt, after the daemons' targets exist).
#
#   cmake --install BUILD [--prefix /usr]     daemons, migrations, docs,
#                                            units and settings
#   (cd BUILD && cpack -G DEB)               sluice-controller_*.deb and
#                                            sluice-agent_*.deb
#
# Layout (prefix /usr, as the packages have it):
#   /usr/bin/sluice-controller, /usr/bin/sluice-agent
#   /usr/share/sluice/migrations/*.sql       the controller's default
#                                            --migrations when installed
#   /usr/share/doc/sluice/                   README.md and docs/
#   /usr/lib/systemd/system/sluice-*.service units (deploy/packaging/)
#   /etc/sluice/controller.env, agent.env    settings read by the units
#
# The packages' maintainer scripts (deploy/packaging/debian/) create and
# remove the system user sluice; see docs/deployment.md.
# Where a Linux system expects a daemon: /usr, the packages' prefix, unless
# the build was configured with another -DCMAKE_INSTALL_PREFIX.
if(CMAKE_INSTALL_PREFIX_INITIALIZED_TO_DEFAULT)
  set(CMAKE_INSTALL_PREFIX /usr CACHE PATH
    "Install prefix (/usr: where the Debian packages install)" FORCE)
endif()
include(GNUInstallDirs)

set(SLUICE_PACKAGING_DIR ${CMAKE_CURRENT_SOURCE_DIR}/deploy/packaging)
set(SLUICE_BIN_DIR ${CMAKE_INSTALL_FULL_BINDIR})
set(SLUICE_CONF_DIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/sluice)
set(SLUICE_DOC_DIR ${CMAKE_INSTALL_FULL_DOCDIR})
set(SLUICE_MIGRATIONS_DIR ${CMAKE_INSTALL_FULL_DATADIR}/sluice/migrations)
# systemd looks in <prefix>/lib/systemd/system for /usr and /usr/local.
set(SLUICE_UNIT_DIR lib/systemd/system)
set(SLUICE_GENERATED ${CMAKE_CURRENT_BINARY_DIR}/packaging)

# --- What each package holds (install components "controller", "agent").
install(TARGETS sluice-controller RUNTIME
  DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT controller)
install(TARGETS sluice-agent RUNTIME
  DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT agent)
# The controller finds them at <bindir>/../share/sluice/migrations
# (controller/migrator.h, MigrationsDirFor).
install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/migrations/
  DESTINATION ${CMAKE_INSTALL_DATADIR}/sluice/migrations
  COMPONENT controller FILES_MATCHING PATTERN "*.sql")
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/README.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT controller)
install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/docs/
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs COMPONENT controller)

foreach(part controller agent)
  configure_file(${SLUICE_PACKAGING_DIR}/sluice-${part}.service.in
    ${SLUICE_GENERATED}/sluice-${part}.service @ONLY)
  configure_file(${SLUICE_PACKAGING_DIR}/${part}.env.in
    ${SLUICE_GENERATED}/${part}.env @ONLY)
  install(FILES ${SLUICE_GENERATED}/sluice-${part}.service
    DESTINATION ${SLUICE_UNIT_DIR} COMPONENT ${part})
  # Secrets may go in: owner read and write only.
  install(FILES ${SLUICE_GENERATED}/${part}.env
    DESTINATION ${SLUICE_CONF_DIR} COMPONENT ${part}
    PERMISSIONS OWNER_READ OWNER_WRITE)
endforeach()

# --- Maintainer scripts, per package.
function(sluice_maintainer_scripts part other purge_files)
  set(SLUICE_PKG sluice-${part})
  set(SLUICE_OTHER_PKG sluice-${other})
  set(SLUICE_CONF ${part}.env)
  set(SLUICE_PURGE_FILES ${purge_files})
  set(out ${SLUICE_GENERATED}/debian-${part})
  foreach(script postinst prerm postrm conffiles)
    configure_file(${SLUICE_PACKAGING_DIR}/debian/${script}.in
      ${out}/${script} @ONLY
      FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
        GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  endforeach()
  string(TOUPPER ${part} PART)
  set(CPACK_DEBIAN_${PART}_PACKAGE_CONTROL_EXTRA
    ${out}/postinst ${out}/prerm ${out}/postrm ${out}/conffiles PARENT_SCOPE)
endfunction()
sluice_maintainer_scripts(controller agent
  "${SLUICE_CONF_DIR}/controller.key ${SLUICE_CONF_DIR}/tls.crt ${SLUICE_CONF_DIR}/tls.key")
sluice_maintainer_scripts(agent controller "${SLUICE_CONF_DIR}/agent.key")

# --- CPack: one Debian package per component.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sluice)
set(CPACK_PACKAGE_VENDOR "Sluice")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Sluice maintainers <maintainers@sluice.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "distributed rate limiter")
# The paths in the units and settings are this build's: a package for
# Debian needs a build configured with the prefix /usr (the default).
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "Packages will install under ${CMAKE_INSTALL_PREFIX}; "
    "configure with -DCMAKE_INSTALL_PREFIX=/usr for Debian packages")
endif()
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL controller agent)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies come from dpkg-shlibdeps; adduser runs in postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_NAME sluice-controller)
set(CPACK_DEBIAN_AGENT_PACKAGE_NAME sluice-agent)
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_SUGGESTS "postgresql (>= 13), prometheus")
set(CPACK_DEBIAN_AGENT_PACKAGE_SUGGESTS "redis-tools")
set(CPACK_COMPONENT_CONTROLLER_DESCRIPTION
  "Sluice rate-limit controller\n Keeps the rate-limit rules in PostgreSQL, serves the REST admin API and\n leases tokens to the sluice-agent of every host over ZeroMQ (CurveZMQ).")
set(CPACK_COMPONENT_AGENT_DESCRIPTION
  "Sluice rate-limit agent\n Answers rate-limit checks (RL.CHECK over the Redis protocol) for the\n applications of one host on a Unix socket, from tokens leased by\n sluice-controller.")
include(CPack)
