"""`python -m realtime_ser.features`: see realtime_ser.features.cli."""

import sys

from realtime_ser.features.cli import main

sys.exit(main())
