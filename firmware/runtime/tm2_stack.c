/* Stack high-water mark by paint pattern; see tm2_stack.h for the method.
 * The section bounds come from the generated linker script (templates/linker.ld.j2). Host builds
 * (no linker script, no Arm stack pointer) get the "not measured" versions at the end. */
#include "tm2_stack.h"

#if defined(__arm__)

extern uint32_t __tm2_stack_start__[];
extern uint32_t __tm2_stack_end__[];

/* Bytes left unpainted below the caller's stack pointer: the words this function and its caller
 * may still push while painting. */
#define TM2_PAINT_MARGIN 32u

void tm2_stack_paint(void) {
  uintptr_t sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  volatile uint32_t *word = __tm2_stack_start__;
  const uintptr_t limit = (sp - TM2_PAINT_MARGIN) & ~(uintptr_t)3u;
  while ((uintptr_t)word < limit) {
    *word++ = TM2_STACK_PAINT;
  }
}

size_t tm2_stack_size(void) {
  return (size_t)((uintptr_t)__tm2_stack_end__ - (uintptr_t)__tm2_stack_start__);
}

size_t tm2_stack_used(void) {
  const volatile uint32_t *word = __tm2_stack_start__;
  const volatile uint32_t *end = __tm2_stack_end__;
  while (word < end && *word == TM2_STACK_PAINT) {
    ++word;
  }
  return (size_t)((uintptr_t)end - (uintptr_t)word);
}

#else /* host build */

void tm2_stack_paint(void) {}
size_t tm2_stack_size(void) { return 0; }
size_t tm2_stack_used(void) { return 0; }

#endif
