// CHECK: internal invariants only a bug can break. Never for user input.
#pragma once

#include <cstdio>
#include <cstdlib>

#define XTPU_CHECK(cond)                                                     \
  do {                                                                       \
    if (!(cond)) {                                                           \
      std::fprintf(stderr, "%s:%d: internal error: CHECK failed: %s\n",      \
                   __FILE__, __LINE__, #cond);                               \
      std::abort();                                                          \
    }                                                                        \
  } while (0)
