"""Notifications: the event catalogue, webhooks (Standard Webhooks), and each person's feed."""
