/* Makes any heap use a link error.
 *
 * tinym2net firmware is heap-free. newlib's malloc family gets its memory from _sbrk; this _sbrk
 * refers to a symbol that is defined nowhere, so a program that pulls malloc/calloc/realloc (or
 * anything that calls them, such as printf) into the link fails with
 *   undefined reference to `tm2_error_firmware_must_not_use_the_heap'
 * A program that does not use the heap never keeps this _sbrk (-Wl,--gc-sections), so the
 * undefined symbol costs nothing and is never reported.
 */
#include <stddef.h>

extern char tm2_error_firmware_must_not_use_the_heap[];

void *_sbrk(ptrdiff_t increment);

void *_sbrk(ptrdiff_t increment) {
  (void)increment;
  return tm2_error_firmware_must_not_use_the_heap;
}
