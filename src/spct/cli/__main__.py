import sys

from spct.cli.main import main

sys.exit(main())
