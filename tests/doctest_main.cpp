// The one translation unit that owns doctest's main(); test files only include doctest.h.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
