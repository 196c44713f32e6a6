/* tinym2net run-time I/O: how a generated main() gets inputs and hands back outputs.
 *
 * Two implementations share this header:
 *   io_host.c      - host builds (tests): stdio files named on the command line.
 *   io_semihost.c  - emulator builds: Arm semihosting (SYS_OPEN/SYS_READ/SYS_WRITE/SYS_EXIT)
 *                    on files "tm2_in.bin" / "tm2_out.bin" in the emulator's working directory.
 * Neither uses the heap.
 *
 * File protocol: tm2_in.bin = uint32 little-endian sample count N, then N samples, each the bytes
 * of every graph input in order. tm2_out.bin = N samples, each the bytes of every graph output.
 * Builds with TM2_TRACE also write every operator's output after it runs (tm2_io_trace): "tm2_trace.bin"
 * in the emulator's working directory, the file named third on the host's command line.
 */
#ifndef TM2_IO_H
#define TM2_IO_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Open the input and output streams. argc/argv are the host's (ignored on the target). 0 on success. */
int tm2_io_open(int argc, char **argv);
/* Read exactly n bytes of input. 0 on success, -1 at end of data or on error. */
int tm2_io_read(void *buf, size_t n);
/* Append n bytes to the output stream. 0 on success. */
int tm2_io_write(const void *buf, size_t n);
/* Append n bytes to the operator trace (opened at the first call; nothing is written where the host was given
 * no third file; defined in the emulator's build only with TM2_TRACE). 0 on success. */
int tm2_io_trace(const void *buf, size_t n);
/* Write a NUL-terminated message to the console (stderr on the host). */
void tm2_io_log(const char *msg);
/* Flush and close the streams. */
void tm2_io_close(void);
/* Stop the program with the given status (semihosting SYS_EXIT_EXTENDED on the target). */
void tm2_io_exit(int status) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif
#endif
