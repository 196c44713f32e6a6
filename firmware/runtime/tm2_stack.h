/* tinym2net stack measurement by painting.
 *
 * At reset, startup.c fills the unused part of the stack section with TM2_STACK_PAINT before main
 * runs. The stack grows down from __tm2_stack_end__ toward __tm2_stack_start__, so the deepest
 * point it ever reached is the lowest word that no longer holds the paint pattern. Scanning up
 * from the bottom for the first changed word gives the high-water mark in bytes.
 *
 * The measure can under-count only if a program writes exactly the paint value into the deepest
 * word it used (improbable; the pattern is not a small integer or a valid code address).
 *
 * The stack section sits at the bottom of RAM, so on a real board an overflow runs into unmapped
 * memory and faults. QEMU's MPS2 machines ignore writes below RAM instead, so there a result equal
 * to (or within a frame of) tm2_stack_size() must be read as a probable overflow.
 */
#ifndef TM2_STACK_H
#define TM2_STACK_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TM2_STACK_PAINT 0xC5A3E17Du

/* Fill the stack section below the caller's frame with TM2_STACK_PAINT (called once at reset). */
void tm2_stack_paint(void);
/* Size of the stack section in bytes (set at project generation time); 0 on host builds. */
size_t tm2_stack_size(void);
/* Largest number of stack bytes used since reset (high-water mark). 0 where not measured (host). */
size_t tm2_stack_used(void);

#ifdef __cplusplus
}
#endif
#endif
