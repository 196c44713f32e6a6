/* Arm semihosting calls (the "bkpt 0xAB" interface of M-profile cores), shared by io_semihost.c
 * and the fault handler in startup.c. Operation numbers are those of the Arm semihosting spec. */
#ifndef TM2_SEMIHOST_H
#define TM2_SEMIHOST_H
#include <stdint.h>

enum {
  TM2_SYS_OPEN = 0x01,
  TM2_SYS_CLOSE = 0x02,
  TM2_SYS_WRITE0 = 0x04,
  TM2_SYS_WRITE = 0x05,
  TM2_SYS_READ = 0x06,
  TM2_SYS_EXIT = 0x18,
  TM2_SYS_EXIT_EXTENDED = 0x20
};

/* ADP_Stopped_ApplicationExit: with SYS_EXIT_EXTENDED the second word is the exit status. */
#define TM2_ADP_APPLICATION_EXIT 0x20026u
/* ADP_Stopped_RunTimeErrorUnknown: plain SYS_EXIT reports it as status 1. */
#define TM2_ADP_RUNTIME_ERROR 0x20023u

/* One semihosting call: operation in r0, argument (usually a pointer to a parameter block) in r1,
 * result back in r0. "memory" because the host reads and writes the blocks and buffers. */
static inline int32_t tm2_semihost_call(uint32_t op, const void *arg) {
  register uint32_t r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return (int32_t)r0;
}

/* Same, for the calls whose argument is a plain value rather than a pointer (SYS_EXIT on AArch32). */
static inline int32_t tm2_semihost_call_value(uint32_t op, uint32_t value) {
  register uint32_t r0 __asm__("r0") = op;
  register uint32_t r1 __asm__("r1") = value;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return (int32_t)r0;
}

#endif
