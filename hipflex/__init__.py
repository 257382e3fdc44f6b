"""hipflex: thigh IMU to hip-flexion reps.

The work lives in three subpackages whose dependencies point one way:
:mod:`hipflex.dsp` (numba core) <- :mod:`hipflex.sensor` (devices, files,
simulator) <- :mod:`hipflex.service` (CLI, API, storage).
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
