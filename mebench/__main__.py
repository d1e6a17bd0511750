import sys

from mebench.cli import main

sys.exit(main())
