# End-to-end tests for the torchvision classification models that
# models/torchvision_models.txt marks "reference yes": each is exported at
# batch 1 (export_tv_NAME) and checked by check_model.py (e2e_tv_NAME).
# They take minutes each, so they carry the label "torchvision"; select them
# with `ctest -L torchvision`, leave them out with `ctest -LE torchvision`.
# Include from tests/e2e/CMakeLists.txt (after XTPU_MODELS_DIR and XTPU_E2E_ENV
# are set): include(${CMAKE_CURRENT_SOURCE_DIR}/torchvision.cmake)
set(XTPU_TV_LIST ${CMAKE_SOURCE_DIR}/models/torchvision_models.txt)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${XTPU_TV_LIST})
file(STRINGS ${XTPU_TV_LIST} xtpu_tv_lines REGEX "^[a-z]")
foreach(line IN LISTS xtpu_tv_lines)
  string(REGEX MATCH "^([a-z0-9_]+) +yes +yes +yes " matched "${line}")
  if(NOT matched)
    continue()
  endif()
  set(name ${CMAKE_MATCH_1})
  add_test(NAME export_tv_${name}
           COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/models/export.py ${XTPU_MODELS_DIR} tv:${name})
  set_tests_properties(export_tv_${name} PROPERTIES FIXTURES_SETUP tv_${name} TIMEOUT 1200
                       LABELS torchvision ENVIRONMENT "${XTPU_E2E_ENV}")
  add_test(NAME e2e_tv_${name}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/check_model.py
                   --xtpu $<TARGET_FILE:xtpu> --models ${XTPU_MODELS_DIR} tv_${name})
  set_tests_properties(e2e_tv_${name} PROPERTIES FIXTURES_REQUIRED tv_${name} TIMEOUT 1800
                       LABELS torchvision ENVIRONMENT "${XTPU_E2E_ENV}")
endforeach()
