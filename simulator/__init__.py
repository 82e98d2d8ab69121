"""syncsim: a multi-device sync simulator and test harness for offline-first sync systems."""

__version__ = "0.1.0"
