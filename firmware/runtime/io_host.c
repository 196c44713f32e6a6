/* tm2_io.h over C stdio, for host builds (tests): argv[1] is the input file, argv[2] the output, argv[3] (optional)
 * the operator trace of a TM2_TRACE build. */
#include <stdio.h>
#include <stdlib.h>

#include "tm2_io.h"

static FILE *tm2_host_in = NULL;
static FILE *tm2_host_out = NULL;
static FILE *tm2_host_trace = NULL;
static const char *tm2_host_trace_name = NULL;

int tm2_io_open(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s INPUT.bin OUTPUT.bin\n", argc > 0 ? argv[0] : "model");
    return -1;
  }
  tm2_host_in = fopen(argv[1], "rb");
  if (tm2_host_in == NULL) {
    fprintf(stderr, "tm2: cannot open input %s\n", argv[1]);
    return -1;
  }
  tm2_host_out = fopen(argv[2], "wb");
  if (tm2_host_out == NULL) {
    fprintf(stderr, "tm2: cannot create output %s\n", argv[2]);
    return -1;
  }
  tm2_host_trace_name = argc > 3 ? argv[3] : NULL;
  return 0;
}

int tm2_io_read(void *buf, size_t n) {
  if (tm2_host_in == NULL) return -1;
  return fread(buf, 1, n, tm2_host_in) == n ? 0 : -1;
}

int tm2_io_write(const void *buf, size_t n) {
  if (tm2_host_out == NULL) return -1;
  return fwrite(buf, 1, n, tm2_host_out) == n ? 0 : -1;
}

int tm2_io_trace(const void *buf, size_t n) {
  if (tm2_host_trace_name == NULL) return 0;
  if (tm2_host_trace == NULL) tm2_host_trace = fopen(tm2_host_trace_name, "wb");
  if (tm2_host_trace == NULL) return -1;
  return fwrite(buf, 1, n, tm2_host_trace) == n ? 0 : -1;
}

void tm2_io_log(const char *msg) {
  fputs(msg, stderr);
  fflush(stderr);
}

void tm2_io_close(void) {
  if (tm2_host_in != NULL) {
    fclose(tm2_host_in);
    tm2_host_in = NULL;
  }
  if (tm2_host_out != NULL) {
    fclose(tm2_host_out);
    tm2_host_out = NULL;
  }
  if (tm2_host_trace != NULL) {
    fclose(tm2_host_trace);
    tm2_host_trace = NULL;
  }
}

void tm2_io_exit(int status) {
  tm2_io_close();
  exit(status);
}
