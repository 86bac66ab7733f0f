"""The service map (15分钟便民服务圈): service sites (``sites``), the walking network
(``network``), the walking circles, the households outside them and the candidate sites
(``circles``), and the jobs that import and refresh them (``jobs``)."""
