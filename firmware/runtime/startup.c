/* Bare-metal start-up for tinym2net emulator firmware (Cortex-M3/M4/M7/M33, Thumb-2).
 *
 * Reset sequence:
 *   1. enable the FPU (CPACR full access to CP10/CP11) when the build targets one (__ARM_FP),
 *      before any compiled code might touch an FP register;
 *   2. copy initialised data from its load address in flash to RAM, zero .bss;
 *   3. paint the unused stack with TM2_STACK_PAINT (tm2_stack.h) for the high-water mark;
 *   4. call main(1, {"firmware", NULL}) and hand its return value to tm2_io_exit.
 * Every fault exception lands in one handler that prints the faulting PC and the fault status
 * registers over tm2_io_log and stops with status TM2_EXIT_FAULT. No interrupts are used, so the
 * vector table holds only the 16 core entries.
 * Section symbols come from the generated linker script (templates/linker.ld.j2).
 */
#include <stdint.h>

#include "tm2_io.h"
#include "tm2_stack.h"

/* Exit status of a firmware stopped by a fault exception. */
#define TM2_EXIT_FAULT 3

extern uint32_t __tm2_data_load__[];
extern uint32_t __tm2_data_start__[];
extern uint32_t __tm2_data_end__[];
extern uint32_t __tm2_bss_start__[];
extern uint32_t __tm2_bss_end__[];
extern uint32_t __tm2_stack_start__[];
extern uint32_t __tm2_stack_end__[];

int main(int argc, char **argv);

void Reset_Handler(void) __attribute__((noreturn));
void Fault_Handler(void) __attribute__((naked, noreturn));
void tm2_fault_report(const uint32_t *frame, uint32_t exc_return) __attribute__((noreturn, used, cold));
void Idle_Handler(void);

#define TM2_REG32(addr) (*(volatile uint32_t *)(addr))
#define TM2_SCB_CPACR 0xE000ED88u
#define TM2_SCB_ICSR 0xE000ED04u
#define TM2_SCB_CFSR 0xE000ED28u
#define TM2_SCB_HFSR 0xE000ED2Cu
#define TM2_SCB_BFAR 0xE000ED38u

typedef void (*tm2_vector_t)(void);

/* Entry 0 is the initial main stack pointer: the top of the .stack section. */
__attribute__((section(".vectors"), used)) const tm2_vector_t tm2_vector_table[16] = {
    (tm2_vector_t)(uintptr_t)__tm2_stack_end__,
    Reset_Handler,
    Fault_Handler, /* NMI */
    Fault_Handler, /* HardFault */
    Fault_Handler, /* MemManage */
    Fault_Handler, /* BusFault */
    Fault_Handler, /* UsageFault */
    Fault_Handler, /* SecureFault (v8-M) */
    0,
    0,
    0,
    Idle_Handler, /* SVCall */
    Idle_Handler, /* DebugMonitor */
    0,
    Idle_Handler, /* PendSV */
    Idle_Handler, /* SysTick */
};

void Idle_Handler(void) {}

void Reset_Handler(void) {
#if defined(__ARM_FP)
  TM2_REG32(TM2_SCB_CPACR) |= (0xFu << 20);
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
  const uint32_t *src = __tm2_data_load__;
  for (uint32_t *dst = __tm2_data_start__; dst < __tm2_data_end__;) *dst++ = *src++;
  for (uint32_t *dst = __tm2_bss_start__; dst < __tm2_bss_end__;) *dst++ = 0u;
  tm2_stack_paint();

  static char tm2_program_name[] = "firmware";
  static char *tm2_argv[2] = {tm2_program_name, 0};
  const int status = main(1, tm2_argv);
  tm2_io_exit(status);
}

/* Writes "0x" and 8 hex digits of v into out (10 chars, no terminator). */
static void tm2_hex32(char *out, uint32_t v) {
  static const char digits[] = "0123456789abcdef";
  out[0] = '0';
  out[1] = 'x';
  for (int i = 0; i < 8; ++i) out[2 + i] = digits[(v >> (28 - 4 * i)) & 0xFu];
}

/* Appends s to buf at *pos (bounded by cap - 1). */
static void tm2_append(char *buf, uint32_t cap, uint32_t *pos, const char *s) {
  while (*s != '\0' && *pos + 1u < cap) buf[(*pos)++] = *s++;
}

void tm2_fault_report(const uint32_t *frame, uint32_t exc_return) {
  (void)exc_return;
  char line[128];
  char hex[11];
  uint32_t pos = 0;
  hex[10] = '\0';
  tm2_append(line, sizeof line, &pos, "tm2: fault exception ");
  const uint32_t vect = TM2_REG32(TM2_SCB_ICSR) & 0x1FFu;
  tm2_hex32(hex, vect);
  tm2_append(line, sizeof line, &pos, hex + 8);
  /* A frame outside the stack section means the stack overflowed: the frame cannot be read. */
  const int frame_ok = frame >= __tm2_stack_start__ && frame + 8 <= __tm2_stack_end__;
  if (frame_ok) {
    tm2_append(line, sizeof line, &pos, " pc=");
    tm2_hex32(hex, frame[6]);
    tm2_append(line, sizeof line, &pos, hex);
  } else {
    tm2_append(line, sizeof line, &pos, " (stack overflow)");
  }
  tm2_append(line, sizeof line, &pos, " cfsr=");
  tm2_hex32(hex, TM2_REG32(TM2_SCB_CFSR));
  tm2_append(line, sizeof line, &pos, hex);
  tm2_append(line, sizeof line, &pos, " hfsr=");
  tm2_hex32(hex, TM2_REG32(TM2_SCB_HFSR));
  tm2_append(line, sizeof line, &pos, hex);
  tm2_append(line, sizeof line, &pos, " bfar=");
  tm2_hex32(hex, TM2_REG32(TM2_SCB_BFAR));
  tm2_append(line, sizeof line, &pos, hex);
  tm2_append(line, sizeof line, &pos, "\n");
  line[pos] = '\0';
  tm2_io_log(line);
  tm2_io_exit(TM2_EXIT_FAULT);
}

/* Picks the stack the exception frame was pushed on (EXC_RETURN bit 2) and calls
 * tm2_fault_report(frame, exc_return). The report keeps running on the stack below the frame,
 * unless the frame lies in the lowest 256 bytes of the stack section or below it
 * (a stack overflow): then the main stack pointer restarts at the top of the section. */
void Fault_Handler(void) {
  __asm__ volatile(
      "tst lr, #4\n\t"
      "ite eq\n\t"
      "mrseq r0, msp\n\t"
      "mrsne r0, psp\n\t"
      "mov r1, lr\n\t"
      "ldr r2, =__tm2_stack_start__ + 256\n\t"
      "cmp r0, r2\n\t"
      "bhs 1f\n\t"
      "ldr r2, =__tm2_stack_end__\n\t"
      "msr msp, r2\n\t"
      "1:\n\t"
      "b tm2_fault_report\n\t"
      ".ltorg\n\t");
}
