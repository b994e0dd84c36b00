"""Research tier: bars, levels, touches, labels, session assembly and the batch touch-feature driver."""
