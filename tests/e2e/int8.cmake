# The int8 path end to end (tests/e2e/check_int8.py): models quantized with
# QuantizeLinear/DequantizeLinear (QDQ) and QLinearMatMul/QLinearConv, written
# by models/export_quantized.py with numpy references, compiled for v1 (int8
# only MXU) and v4, run on the simulated chip and compared exactly.
add_test(NAME export_int8_models
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/models/export_quantized.py ${XTPU_MODELS_DIR})
set_tests_properties(export_int8_models PROPERTIES FIXTURES_SETUP int8_models TIMEOUT 300)
foreach(model qdq_mlp qdq_cnn qlinear_matmul qlinear_conv)
  foreach(chip v1 v4)
    add_test(NAME e2e_int8_${model}_${chip}
             COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/check_int8.py
                     --xtpu $<TARGET_FILE:xtpu> --models ${XTPU_MODELS_DIR} --chip ${chip} ${model})
    set_tests_properties(e2e_int8_${model}_${chip} PROPERTIES FIXTURES_REQUIRED int8_models TIMEOUT 600)
  endforeach()
endforeach()
