"""Live sensors over Bluetooth LE: scan, open a client, stream, recover, decode, map clocks.

:mod:`~hipflex.sensor.live.scan` finds sensors, :mod:`~hipflex.sensor.live.opener` opens the
right vendor client (:mod:`~hipflex.sensor.live.polar_client`,
:mod:`~hipflex.sensor.live.metawear_client`) over the shared session
(:mod:`~hipflex.sensor.live.session`, :mod:`~hipflex.sensor.live.pipeline`,
:mod:`~hipflex.sensor.live.recovery`); :mod:`~hipflex.sensor.live.client` is the interface
the rest of hipflex sees.
"""
