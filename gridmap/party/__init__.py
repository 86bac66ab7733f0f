"""党建引领: buildings (楼栋), units, their posts and 党员中心户."""
