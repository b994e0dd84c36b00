"""Bronze builders: landing files -> typed, filtered, sorted tables (streaming MBP-10, the MBO book, front month / 0DTE selection)."""
