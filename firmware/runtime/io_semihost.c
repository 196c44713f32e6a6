/* tm2_io.h over Arm semihosting, for emulator builds.
 *
 * The emulator (QEMU with -semihosting-config enable=on,target=native) serves the calls from the
 * host: "tm2_in.bin" / "tm2_out.bin" (and "tm2_trace.bin", TM2_TRACE builds) are files in its working directory,
 * tm2_io_log text goes to
 * its stderr, and SYS_EXIT_EXTENDED turns tm2_io_exit's status into the emulator's exit status.
 * No newlib stdio and no heap: every call is a parameter block on the stack and one "bkpt 0xAB".
 */
#include <stdint.h>

#include "tm2_io.h"
#include "tm2_semihost.h"

/* fopen-style mode indices of SYS_OPEN. */
#define TM2_SH_MODE_RB 1u
#define TM2_SH_MODE_WB 5u

static int32_t tm2_sh_in = -1;
static int32_t tm2_sh_out = -1;
#ifdef TM2_TRACE
static int32_t tm2_sh_trace = -1; /* only trace builds hold the handle (4 bytes of RAM) */
#endif

static uint32_t tm2_sh_strlen(const char *s) {
  uint32_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

static int32_t tm2_sh_open(const char *name, uint32_t mode) {
  const uint32_t block[3] = {(uint32_t)(uintptr_t)name, mode, tm2_sh_strlen(name)};
  return tm2_semihost_call(TM2_SYS_OPEN, block);
}

int tm2_io_open(int argc, char **argv) {
  (void)argc;
  (void)argv;
  tm2_sh_in = tm2_sh_open("tm2_in.bin", TM2_SH_MODE_RB);
  if (tm2_sh_in < 0) {
    tm2_io_log("tm2: cannot open tm2_in.bin in the emulator's working directory\n");
    return -1;
  }
  tm2_sh_out = tm2_sh_open("tm2_out.bin", TM2_SH_MODE_WB);
  if (tm2_sh_out < 0) {
    tm2_io_log("tm2: cannot create tm2_out.bin in the emulator's working directory\n");
    return -1;
  }
  return 0;
}

int tm2_io_read(void *buf, size_t n) {
  uint8_t *dst = (uint8_t *)buf;
  if (tm2_sh_in < 0) return -1;
  while (n > 0) {
    const uint32_t block[3] = {(uint32_t)tm2_sh_in, (uint32_t)(uintptr_t)dst, (uint32_t)n};
    /* SYS_READ answers the number of bytes it did NOT read. */
    const int32_t left = tm2_semihost_call(TM2_SYS_READ, block);
    if (left < 0 || (size_t)left >= n) return -1; /* error or end of file */
    const size_t got = n - (size_t)left;
    dst += got;
    n -= got;
  }
  return 0;
}

static int tm2_sh_write(int32_t handle, const void *buf, size_t n) {
  const uint32_t block[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)buf, (uint32_t)n};
  /* SYS_WRITE answers the number of bytes it did NOT write. */
  return tm2_semihost_call(TM2_SYS_WRITE, block) == 0 ? 0 : -1;
}

int tm2_io_write(const void *buf, size_t n) { return tm2_sh_out < 0 ? -1 : tm2_sh_write(tm2_sh_out, buf, n); }

#ifdef TM2_TRACE
int tm2_io_trace(const void *buf, size_t n) {
  if (tm2_sh_trace < 0) tm2_sh_trace = tm2_sh_open("tm2_trace.bin", TM2_SH_MODE_WB);
  return tm2_sh_trace < 0 ? -1 : tm2_sh_write(tm2_sh_trace, buf, n);
}
#endif

void tm2_io_log(const char *msg) { (void)tm2_semihost_call(TM2_SYS_WRITE0, msg); }

void tm2_io_close(void) {
  if (tm2_sh_in >= 0) {
    const uint32_t block[1] = {(uint32_t)tm2_sh_in};
    (void)tm2_semihost_call(TM2_SYS_CLOSE, block);
    tm2_sh_in = -1;
  }
  if (tm2_sh_out >= 0) {
    const uint32_t block[1] = {(uint32_t)tm2_sh_out};
    (void)tm2_semihost_call(TM2_SYS_CLOSE, block);
    tm2_sh_out = -1;
  }
#ifdef TM2_TRACE
  if (tm2_sh_trace >= 0) {
    const uint32_t block[1] = {(uint32_t)tm2_sh_trace};
    (void)tm2_semihost_call(TM2_SYS_CLOSE, block);
    tm2_sh_trace = -1;
  }
#endif
}

void tm2_io_exit(int status) {
  tm2_io_close();
  const uint32_t block[2] = {TM2_ADP_APPLICATION_EXIT, (uint32_t)status};
  (void)tm2_semihost_call(TM2_SYS_EXIT_EXTENDED, block);
  /* A host without SYS_EXIT_EXTENDED returns here: plain SYS_EXIT can only say 0 or 1. */
  (void)tm2_semihost_call_value(TM2_SYS_EXIT, status == 0 ? TM2_ADP_APPLICATION_EXIT : TM2_ADP_RUNTIME_ERROR);
  for (;;) {
  }
}
