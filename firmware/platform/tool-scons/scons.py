"""PlatformIO's core package tool-scons, offline: run SCons from the Python that runs PlatformIO.

PlatformIO starts ``<its python> <this package>/scons.py <args>``. The registry copy bundles
scons-local; this one uses the ``scons`` distribution from PyPI installed beside PlatformIO
(``pip install scons==4.11.1``), so no download is needed.
"""

import sys

try:
    from SCons.Script.Main import main
except ImportError:
    sys.stderr.write(
        f"Error: SCons is not installed in PlatformIO's Python ({sys.executable}); "
        f"run: {sys.executable} -m pip install scons==4.11.1\n"
    )
    sys.exit(1)

if __name__ == "__main__":
    main()
