"""``hipflex report`` and ``hipflex analyze --plot``: pictures and a shareable report of analyses.

* :mod:`~hipflex.service.coach_report.inputs`: a recording file or a stored session, analysed, with its side;
* :mod:`~hipflex.service.coach_report.charts`: matplotlib pictures (an optional dependency);
* :mod:`~hipflex.service.coach_report.asymmetry`: left against right;
* :mod:`~hipflex.service.coach_report.html_doc`: the self-contained HTML file.

Imported only by those commands: matplotlib and the charts stay out of the server and ``analyze``.
"""
