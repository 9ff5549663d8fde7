# multipush_module(NAME [DEPS module...] [LIBS target...])
#
# Builds plugin/NAME/*.cpp into the static library multipush_NAME. DEPS names
# other modules it uses, LIBS third-party targets. Each module is its own
# library so that its unit tests link only what the module needs.
function(multipush_module name)
  cmake_parse_arguments(ARG "" "" "DEPS;LIBS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  set(deps)
  foreach(dep IN LISTS ARG_DEPS)
    list(APPEND deps multipush_${dep})
  endforeach()
  if(NOT sources)
    # A module with headers only so far.
    add_library(multipush_${name} INTERFACE)
    target_include_directories(multipush_${name} INTERFACE ${PROJECT_SOURCE_DIR}/include)
    target_link_libraries(multipush_${name} INTERFACE ${deps} ${ARG_LIBS})
    return()
  endif()
  add_library(multipush_${name} STATIC ${sources})
  target_include_directories(multipush_${name}
    PUBLIC ${PROJECT_SOURCE_DIR}/include
    PRIVATE ${PROJECT_SOURCE_DIR}/plugin)
  target_link_libraries(multipush_${name} PUBLIC ${deps} ${ARG_LIBS})
  multipush_warnings(multipush_${name})
endfunction()

function(multipush_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    -Wconversion -Wno-sign-conversion -Wnon-virtual-dtor
    # GCC 12 reports false -Wrestrict positives inside std::string.
    $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
  if(MULTIPUSH_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# multipush_unit_test(MODULE [DEPS module...])
#
# Builds tests/unit/MODULE/test_*.cpp into test_MODULE and registers it with
# CTest under the label "unit".
function(multipush_unit_test module)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${module}/test_*.cpp)
  if(NOT sources)
    return()
  endif()
  add_executable(test_${module} ${sources} ${PROJECT_SOURCE_DIR}/tests/unit/main.cpp)
  set(deps multipush_${module})
  foreach(dep IN LISTS ARG_DEPS)
    list(APPEND deps multipush_${dep})
  endforeach()
  target_link_libraries(test_${module} PRIVATE ${deps} doctest::doctest)
  target_include_directories(test_${module} PRIVATE ${PROJECT_SOURCE_DIR}/plugin
    ${PROJECT_SOURCE_DIR}/tests/unit)
  target_compile_definitions(test_${module} PRIVATE
    MULTIPUSH_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    MULTIPUSH_SHARED_DIR="${PROJECT_SOURCE_DIR}/tests/data")
  multipush_warnings(test_${module})
  add_test(NAME unit.${module} COMMAND test_${module})
  set_tests_properties(unit.${module} PROPERTIES LABELS unit)
endfunction()
