"""SCons build script of the tinym2net-arm PlatformIO platform (offline, system toolchain).

PlatformIO runs this for ``pio run`` / ``pio test`` in an environment with
``platform = symlink://.../tinym2net-arm``. It compiles the project's ``src/`` (filtered by
``build_src_filter``) with the Debian ``arm-none-eabi-gcc`` found on PATH and links with the
project's generated linker script. The board JSON (written by tinym2net into the project's
``boards/`` folder) supplies:

* ``build.tinym2net.gcc_flags``: -mcpu/-mthumb/-mfpu/-mfloat-abi of the board;
* ``build.ldscript``: the linker script, relative to the project folder;
* ``upload.maximum_size`` / ``upload.maximum_ram_size``: the budgets PlatformIO prints and checks.

Outputs in ``$BUILD_DIR``: firmware.elf, firmware.bin (raw image from the flash origin) and
firmware.map. Link rules: no start files (tinym2net's startup.c has the vector table), newlib-nano
for memcpy/memset only, ``--gc-sections``; a region overflow or any heap use fails the link.
"""

import os
import shutil
import sys

from SCons.Script import AlwaysBuild, Default, DefaultEnvironment  # noqa: F401 (provided by SCons)

env = DefaultEnvironment()
board = env.BoardConfig()

PREFIX = "arm-none-eabi-"
if shutil.which(PREFIX + "gcc") is None:
    sys.stderr.write(
        "Error: arm-none-eabi-gcc not found on PATH; install it with: "
        "sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi\n"
    )
    env.Exit(1)

cpu_flags = list(board.get("build.tinym2net.gcc_flags", []))
if not any(flag.startswith("-mcpu=") for flag in cpu_flags):
    sys.stderr.write(
        "Error: board JSON has no build.tinym2net.gcc_flags with -mcpu=; regenerate the project\n"
    )
    env.Exit(1)

ldscript = board.get("build.ldscript", "linker.ld")
if not os.path.isabs(ldscript):
    ldscript = os.path.join(env.subst("$PROJECT_DIR"), ldscript)

env.Replace(
    AR=PREFIX + "gcc-ar",
    AS=PREFIX + "gcc",
    CC=PREFIX + "gcc",
    CXX=PREFIX + "g++",
    GDB=PREFIX + "gdb",
    OBJCOPY=PREFIX + "objcopy",
    RANLIB=PREFIX + "gcc-ranlib",
    SIZETOOL=PREFIX + "size",
    ARFLAGS=["rc"],
    PROGNAME="firmware",
    PROGSUFFIX=".elf",
    LDSCRIPT_PATH=ldscript,
    # Flash = everything loaded from flash; RAM = initialised data, zeroed data and the stack.
    SIZECHECKCMD="$SIZETOOL -A -d $SOURCES",
    SIZEPROGREGEXP=r"^(?:\.vectors|\.text|\.ARM\.extab|\.ARM\.exidx|\.data)\s+(\d+).*",
    SIZEDATAREGEXP=r"^(?:\.data|\.bss|\.stack)\s+(\d+).*",
    SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
)

common = [
    "-O2",
    "-g",
    "-ffp-contract=off",
    "-ffunction-sections",
    "-fdata-sections",
    "-Wall",
    "-Wextra",
    "-Werror",
]
env.Append(
    ASFLAGS=cpu_flags + ["-x", "assembler-with-cpp"],
    CCFLAGS=cpu_flags + common,
    CFLAGS=["-std=c99"],
    CXXFLAGS=["-std=c++17", "-fno-exceptions", "-fno-rtti"],
    LINKFLAGS=cpu_flags
    + [
        "-nostartfiles",
        "--specs=nano.specs",
        "-Wl,--gc-sections",
        "-Wl,--print-memory-usage",
        "-Wl,-Map=" + os.path.join(env.subst("$BUILD_DIR"), "firmware.map"),
    ],
)

target_elf = env.BuildProgram()
target_bin = env.Command(
    os.path.join("$BUILD_DIR", "${PROGNAME}.bin"),
    target_elf,
    env.VerboseAction("$OBJCOPY -O binary $SOURCES $TARGET", "Building $TARGET"),
)
env.Depends(target_bin, target_elf)

target_size = env.Alias("size", target_elf, env.VerboseAction("$SIZEPRINTCMD", "Calculating size $SOURCE"))
AlwaysBuild(target_size)

# There is nothing to flash: the emulator loads firmware.elf (see test/test_custom_runner.py).
AlwaysBuild(env.Alias("upload", target_bin, env.VerboseAction("echo firmware: $SOURCE", "No upload target")))

Default([target_bin, target_size])
