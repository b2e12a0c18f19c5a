"""Portcullis gateway: the service and its only composition root."""
