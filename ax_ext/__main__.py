import sys

from ax_ext.cli import main

sys.exit(main())
