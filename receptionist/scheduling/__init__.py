"""Appointments: the store, slot arithmetic and listings."""
