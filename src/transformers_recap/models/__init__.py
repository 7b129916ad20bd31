# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""Model families. Each folder holds exactly what remote code copies: configuration, modeling and processing files."""
