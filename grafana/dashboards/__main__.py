"""`python -m grafana.dashboards`: render the dashboards and the panel table."""

from grafana.dashboards import write

if __name__ == "__main__":
    for written in write():
        print(f"wrote {written}")
