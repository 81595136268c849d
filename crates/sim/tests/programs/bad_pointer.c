// mvin from an address the program never mapped: the emulator must stop
// with the command named, not crash.
#include "include/gemmini.h"

int main(void) {
  gemmini_config_ld(16);
  gemmini_mvin((void *)0x10, 0);
  return 0;
}
