# One static library per layer: folder = namespace = library (docs/ARCHITECTURE.md "Layers").
#
#   provisiond_layer(oauth
#     USES core crypto config http accounts …   # the layers its code may include and link
#     LIBS Boost::json …                        # third-party libraries it uses itself
#     SOURCES token_service.cpp …)              # listed by hand, relative to src/<folder>/
#
# Links are PRIVATE. At configure time every file of the folder is read and each
# `#include "<layer>/…"` must name the folder itself or a layer in USES: a layering break stops
# the build with a message that says which file and which include, before anything compiles.
# A .cpp in the folder that no SOURCES list names stops it too (sources are listed, not globbed).

set(PROVISIOND_LAYERS "" CACHE INTERNAL "")

function(provisiond_layer name)
  cmake_parse_arguments(L "" "DIR" "USES;LIBS;SOURCES;GENERATED" ${ARGN})
  if(NOT L_DIR)
    set(L_DIR ${name})
  endif()
  set(dir ${CMAKE_SOURCE_DIR}/src/${L_DIR})
  set(sources "")
  foreach(s ${L_SOURCES})
    list(APPEND sources ${dir}/${s})
  endforeach()

  # Every .cpp of the folder (not of its sub-folders, which are layers of their own) is listed.
  file(GLOB present RELATIVE ${dir} CONFIGURE_DEPENDS ${dir}/*.cpp)
  foreach(f ${present})
    if(NOT f IN_LIST L_SOURCES)
      message(FATAL_ERROR "src/${L_DIR}/${f} is in no library: add it to the SOURCES of "
                          "provisiond_layer(${name}) in src/CMakeLists.txt")
    endif()
  endforeach()

  # The include check. Sub-folder layers are named by their path (storage/sqlite).
  set(allowed ${L_DIR} ${L_USES})
  file(GLOB files CONFIGURE_DEPENDS ${dir}/*.cpp ${dir}/*.hpp)
  foreach(f ${files})
    file(STRINGS ${f} includes REGEX "^#include \"[a-z_/]+\\.hpp\"")
    foreach(line ${includes})
      string(REGEX REPLACE "^#include \"(.*)/[a-z_]+\\.hpp\".*" "\\1" used "${line}")
      if(NOT used IN_LIST allowed)
        file(RELATIVE_PATH shown ${CMAKE_SOURCE_DIR} ${f})
        message(FATAL_ERROR "layering: ${shown} includes \"${used}/…\", but ${L_DIR}/ may use "
                            "only: ${L_USES}. See docs/ARCHITECTURE.md \"Layers\": move the code, "
                            "or depend on an interface the lower layer declares.")
      endif()
    endforeach()
  endforeach()

  set(target "provisiond_${name}")
  add_library(${target} STATIC ${sources} ${L_GENERATED})
  target_include_directories(${target} PUBLIC ${CMAKE_SOURCE_DIR}/src ${CMAKE_BINARY_DIR}/generated)
  target_compile_definitions(${target} PUBLIC BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW
                             PROVISIOND_VERSION="${PROJECT_VERSION}")
  # Every layer may use the vocabulary libraries of core/ headers (Boost.System's result, JSON,
  # URL) and logging; anything else it names itself.
  target_link_libraries(${target} PUBLIC Boost::json Boost::url spdlog::spdlog fmt::fmt Threads::Threads)
  foreach(u ${L_USES})
    string(REPLACE "/" "_" dep "provisiond_${u}")
    target_link_libraries(${target} PRIVATE ${dep})
  endforeach()
  if(L_LIBS)
    target_link_libraries(${target} PRIVATE ${L_LIBS})
  endif()
  set(PROVISIOND_LAYERS ${PROVISIOND_LAYERS} ${target} CACHE INTERNAL "")
endfunction()
