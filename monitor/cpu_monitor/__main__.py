import sys

from cpu_monitor.cli import main

sys.exit(main())
