"""Physics engines (DESIGN §7): pure functions of a window of events plus config.

Batch (Silver features) and live call the same functions. This release has kinematics and tape;
barrier, fuel, OFI and score arrive with the engines issue.
"""
