"""Grafana: dashboards as code (``grafana.dashboards``) and the provisioning Grafana reads."""
