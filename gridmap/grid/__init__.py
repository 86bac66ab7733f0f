"""The grid itself: imports, locating a point, staffing and coverage, division, staffing reports."""
