// A program that calls exit(3) after some Gemmini work: the report still
// comes back.
#include "include/gemmini.h"

static elem_t A[16][16] row_align(1);

int main(void) {
  gemmini_config_ld(16);
  gemmini_mvin(A, 0);
  gemmini_fence();
  exit(3);
}
