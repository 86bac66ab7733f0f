"""Party building (党建引领): 双报到 of units and in-service members, activities and hours."""
