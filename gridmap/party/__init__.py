"""Party building (党建引领): buildings (楼栋), units, their posts and 党员中心户; 双报到 of
units and in-service members, activities and hours."""
