# The Debian package, provisiond_<version>_amd64.deb (scripts/build-package.sh builds it from the
# release build): the binary, the systemd unit, its system user, the default settings as a
# conffile, and the documentation and deploy/ examples. docs/OPERATIONS.md tells how to run it.

set(PROVISIOND_PACKAGE_MAINTAINER "provisiond maintainers <maintainers@provisiond.invalid>"
    CACHE STRING "Maintainer field of the Debian package")
set(PROVISIOND_PACKAGE_HOMEPAGE "" CACHE STRING "Homepage field of the Debian package (none when empty)")

# Relative destinations land under /usr (the DEB packaging prefix). Units go to /lib/systemd/system
# as in every bookworm package: moving them to /usr/lib is after bookworm (DEP 17).
install(TARGETS provisiond RUNTIME DESTINATION bin)
install(FILES packaging/provisiond.service DESTINATION /lib/systemd/system)
install(FILES packaging/provisiond.sysusers DESTINATION lib/sysusers.d RENAME provisiond.conf)
# 0600 in the package: the settings may hold secrets; postinst lets the provisiond group read them.
install(FILES packaging/provisiond.conf DESTINATION /etc/provisiond
        PERMISSIONS OWNER_READ OWNER_WRITE)
install(FILES docs/OPERATIONS.md DESTINATION share/doc/provisiond)
install(FILES deploy/README.md DESTINATION share/doc/provisiond/examples)
install(DIRECTORY deploy/nginx deploy/scale-out DESTINATION share/doc/provisiond/examples)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME provisiond)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${PROVISIOND_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "PostHog-compatible partner provisioning API and OAuth 2.0 server")
set(CPACK_PACKAGE_DESCRIPTION
    "A partner (a platform, an AI agent) creates an account for its user and gets working project
credentials back in three calls, through an OAuth 2.0 authorization server (PKCE S256) with
self-registration by client metadata document, email, consent pages and a dashboard.
.
Runs as the provisiond system service (Type=notify, hardened), with an embedded SQLite
database in /var/lib/provisiond and its settings in /etc/provisiond/provisiond.conf.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # provisiond_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
if(PROVISIOND_PACKAGE_HOMEPAGE)
  set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${PROVISIOND_PACKAGE_HOMEPAGE}")
endif()
# Depends: computed by dpkg-shlibdeps from the libraries the binary links (libboost-json1.81.0,
# libsodium23, libsystemd0, …), so it always matches the build.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS nginx)
set(CPACK_STRIP_FILES ON)
# Maintainer scripts (debhelper's systemd and sysusers steps, written out) and the conffiles list:
# files under /etc are not conffiles unless listed.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/debian/conffiles ${CMAKE_SOURCE_DIR}/packaging/debian/postinst
    ${CMAKE_SOURCE_DIR}/packaging/debian/prerm ${CMAKE_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON) # scripts 0755, the rest 0644
include(CPack)
